"""The Python scripts the bench runs with `manage.py shell -c` (in the venv, on the
bench database): each prints one line, `BENCH_<NAME> {json}`, that its caller parses.
Those with %(...)s slots are filled in with `%` by their caller (so `%%` in them is a
literal `%`)."""


# Run by `manage.py shell`: the ids the filtered and detail URLs need, from the seeded data.
PICK_IDS = r"""
import json
from catalog.models import Platform, ProductLine, Service
from catalog.selectors import service_list

def one(model, value):
    return model.objects.filter(name=value).first() or model.objects.filter(code__iexact=value).first()

e3 = one(ProductLine, "E3")
jd = one(Platform, "京东") or Platform.objects.filter(code__in=["jd", "jingdong"]).first()
services = service_list()
detail = (services.filter(product_line=e3, platform=jd).first() if e3 and jd else None) or services.first()
print("BENCH_IDS " + json.dumps({
    "e3": e3.pk if e3 else None,
    "jd": jd.pk if jd else None,
    "detail": detail.pk if detail else None,
    "on_sale": services.count(),
    "e3_jd": services.filter(product_line=e3, platform=jd).count() if e3 and jd else 0,
}))
"""


# Run by `manage.py shell`: the signed-in customer of the bench, with ORDER_COUNT orders
# made through the shop's own services (order_submit, then the reviewer's approve/reject
# and the customer's cancel/confirm), and a session for it made without the login form.
ORDER_COUNT = 500
BENCH_CUSTOMER = r"""
import json, time, uuid
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db.models import Count
from accounts.services import invoice_profile_create, user_register
from catalog.models import Service
from orders import services as S
from orders.selectors import agreement_current
from orders.models import Order

ORDER_COUNT = %(count)d
User = get_user_model()
started = time.perf_counter()
customer = user_register(
    username="bench", email="bench@example.com", password=uuid.uuid4().hex,
    real_name="压测客户", mobile="+8613900139000", company="压测商贸有限公司",
)
profile = invoice_profile_create(user=customer, data={
    "kind": "special", "title_type": "company", "title": "压测商贸有限公司",
    "taxpayer_id": "91310000134511148L", "address": "上海市闵行区号景路206弄", "phone": "021-64000000",
    "bank": "招商银行上海分行", "account": "1219 0000 0000 0002", "contact": "压测客户",
    "contact_phone": "+8613900139000",
})
reviewer = User.objects.get(username="reviewer")  # seed_demo's 订单审核 account
agreement = agreement_current()
on_sale = list(Service.objects.on_sale().order_by("pk").values_list("pk", flat=True))
details = {
    "contract_customer_name": "压测商贸有限公司", "marketplace_order_no": "FW_GOODS-2000001-1",
    "store_name": "压测旗舰店", "seller_nick": "bench_shop", "service_engineer": "李工",
    "reminder_name": "压测客户", "reminder_mobile": "+8613900139000", "reminder_email": "bench@example.com",
    "reminder_cc_email": "", "remarks": "",
}
# Out of every 10 orders: 4 交易成功, 2 交易中, 1 awaiting review, 1 审核未通过,
# 1 cancelled while awaiting review, 1 cancelled after a rejection (both 交易失败).
PLAN = ("success", "success", "success", "success", "in_trade", "in_trade", "awaiting", "rejected", "cancelled", "rejected_cancelled")
timings = {"submit": 0.0, "approve": 0.0, "reject": 0.0, "cancel": 0.0, "confirm_receipt": 0.0}
calls = dict.fromkeys(timings, 0)

def timed(name, function, **kwargs):
    t = time.perf_counter()
    result = function(**kwargs)
    timings[name] += time.perf_counter() - t
    calls[name] += 1
    return result

detail_number = None
for i in range(ORDER_COUNT):
    lines = 1 + i %% 3
    items = [S.CheckoutItem(on_sale[(i * 7 + k * 13) %% len(on_sale)], 1 + (i + k) %% 3) for k in range(lines)]
    plan = PLAN[i %% len(PLAN)]
    # A bank transfer is approved only with its remittance slip: the approved orders are paid online.
    paid_by = "third_party" if plan in ("success", "in_trade") else ("third_party", "bank_transfer")[i %% 2]
    order = timed("submit", S.order_submit,
        customer=customer, items=items, invoice_profile=profile, details=details,
        payment_method=paid_by, agreement=agreement,
        accepted_ip="127.0.0.1", checkout_token=uuid.uuid4(),
    )
    if plan in ("success", "in_trade"):
        order = timed("approve", S.order_approve, order=order, actor=reviewer)
        if plan == "success":
            order = timed("confirm_receipt", S.order_confirm_receipt, order=order, actor=customer)
            if lines == 3:
                detail_number = order.number  # three lines and three events: the fullest page
    elif plan in ("rejected", "rejected_cancelled"):
        order = timed("reject", S.order_reject, order=order, actor=reviewer, reason="服务市场订单号与店铺名称不一致，请核对后重新提交。")
        if plan == "rejected_cancelled":
            order = timed("cancel", S.order_cancel, order=order, actor=customer)
    elif plan == "cancelled":
        order = timed("cancel", S.order_cancel, order=order, actor=customer)

session = SessionStore()
session[SESSION_KEY] = customer._meta.pk.value_to_string(customer)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = customer.get_session_auth_hash()
session.create()
counts = dict(Order.objects.filter(customer=customer).values_list("status").annotate(n=Count("pk")))
print("BENCH_CUSTOMER " + json.dumps({
    "session": session.session_key,
    "detail_number": detail_number,
    "profile": profile.pk,
    "agreement": agreement.pk,
    "details": details,
    "in_trade": list(Order.objects.filter(customer=customer, status="in_trade").order_by("pk").values_list("number", flat=True)),
    "orders": sum(counts.values()),
    "by_status": counts,
    "seconds": time.perf_counter() - started,
    "timings": timings,
    "calls": calls,
}))
"""


# Run by `manage.py shell`: the invoice sheet and the signed contract of one order of the
# bench customer (made in-process when it was confirmed), each rendered RUNS times after
# one warm-up run (fonts, templates and the signing key loaded), in this one process.
PDF_RENDER = r"""
import io, json, statistics, time
from pypdf import PdfReader
from invoicing import services as I
from invoicing.models import Contract, Invoice

RUNS = %(runs)d
invoice = Invoice.objects.select_related("order").get(order__number=%(number)r, purpose="original")
contract = Contract.objects.select_related("order").get(order__number=%(number)r)

def measure(render, document):
    data = render(document)
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        data = render(document)
        seconds.append(time.perf_counter() - started)
    return {
        "median_ms": 1000 * statistics.median(seconds), "min_ms": 1000 * min(seconds),
        "max_ms": 1000 * max(seconds), "bytes": len(data), "pages": len(PdfReader(io.BytesIO(data)).pages),
    }

print("BENCH_PDF " + json.dumps({
    "number": invoice.order.number,
    "lines": invoice.order.lines.count(),
    "runs": RUNS,
    "invoice": measure(I.invoice_sheet_render, invoice),
    "contract": measure(I.contract_render_signed, contract),
}))
"""


# Run by `manage.py shell` with REDIS_URL pointing at the bench's private redis-server:
# COUNT orders in 交易成功 cloned in bulk from the bench customer's confirmed orders (new
# numbers and serials, no documents yet) with a pending DocumentJob each; once the worker
# has declared its queue, all are sent with documents_enqueue (as a confirmation's
# on_commit does), and the clock runs until every job is done or failed.
WORKER_RUN = r"""
import json, statistics, time, uuid
from datetime import timedelta
import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from invoicing.models import Contract, DocumentJob, Invoice
from invoicing.services import documents_enqueue
from orders.models import Order, OrderLine

COUNT, TIMEOUT, QUEUE = %(count)d, %(timeout)d, %(queue)r
templates = list(Order.objects.filter(status="success").order_by("pk").prefetch_related("lines")[:50])
if not templates:
    raise SystemExit("no order in 交易成功 to clone")
now = timezone.now()
stamp = timezone.localtime(now + timedelta(hours=1))  # no order was numbered in that second
order_fields = [f.attname for f in Order._meta.concrete_fields if not f.primary_key]
line_fields = [f.attname for f in OrderLine._meta.concrete_fields if not f.primary_key and f.attname != "order_id"]
with transaction.atomic():
    orders = []
    for i in range(COUNT):
        values = {name: getattr(templates[i %% len(templates)], name) for name in order_fields}
        values.update(number=f"BS-ZX{stamp:%%Y%%m%%d%%H%%M%%S}{i:04d}", checkout_token=uuid.uuid4(), completed_at=now)
        orders.append(Order(**values))
    Order.objects.bulk_create(orders)
    lines, serial = [], 900000  # above any serial of the bench's own orders that day
    for i, order in enumerate(orders):
        for line in templates[i %% len(templates)].lines.all():
            serial += 1
            values = {name: getattr(line, name) for name in line_fields}
            values.update(order_id=order.pk, serial=f"{stamp:%%y%%m%%d}{serial:06d}")
            lines.append(OrderLine(**values))
    OrderLine.objects.bulk_create(lines)
    DocumentJob.objects.bulk_create(DocumentJob(order_id=order.pk) for order in orders)
ids = [order.pk for order in orders]

broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2)
deadline = time.monotonic() + 60
while not broker.exists(f"_kombu.binding.{QUEUE}"):
    if time.monotonic() > deadline:
        raise SystemExit("the worker did not declare its queue within 60 s")
    time.sleep(0.1)

jobs = DocumentJob.objects.filter(order_id__in=ids)
started = time.perf_counter()
not_sent = sum(not documents_enqueue(order_id=pk) for pk in ids)
enqueue_seconds = time.perf_counter() - started
while time.perf_counter() - started < TIMEOUT:
    if jobs.filter(status__in=["done", "failed"]).count() + not_sent >= COUNT:
        break
    time.sleep(0.1)
seconds = time.perf_counter() - started
done = list(jobs.filter(status="done").values_list("started_at", "finished_at", "worker"))
print("BENCH_WORKER " + json.dumps({
    "orders": COUNT,
    "lines": len(lines),
    "seconds": seconds,
    "enqueue_seconds": enqueue_seconds,
    "not_sent": not_sent,
    "done": len(done),
    "failed": jobs.filter(status="failed").count(),
    "attempts": jobs.aggregate(n=Sum("attempts"))["n"] or 0,
    "invoices": Invoice.objects.filter(order_id__in=ids).count(),
    "contracts": Contract.objects.filter(order_id__in=ids).count(),
    "processes": len({worker for _start, _end, worker in done}),
    "median_ms": 1000 * statistics.median((end - start).total_seconds() for start, end, _w in done) if done else 0,
}))
"""


# Run by `manage.py shell` after the mixed load: waits (at most TIMEOUT s) until the
# worker has finished every document job, then counts what the load made.
MIXED_COUNT = r"""
import json, time
from invoicing.models import Contract, DocumentJob, Invoice
from orders.models import Order

TIMEOUT = %(timeout)d
started = time.monotonic()
open_jobs = DocumentJob.objects.exclude(status__in=["done", "failed"])
while open_jobs.exists() and time.monotonic() - started < TIMEOUT:
    time.sleep(0.5)
mine = Order.objects.filter(customer__username="bench")
print("BENCH_COUNT " + json.dumps({
    "orders": mine.count(),
    "success": mine.filter(status="success").count(),
    "jobs_open": open_jobs.count(),
    "jobs_failed": DocumentJob.objects.filter(status="failed").count(),
    "invoices": Invoice.objects.filter(purpose="original").count(),
    "contracts": Contract.objects.count(),
    "waited": time.monotonic() - started,
}))
"""


# Run by `manage.py shell`: COUNT customers for the many-customers load (customers.py),
# each with a marker (KH0001Q …) in its real name, company, invoice title and store name
# so that a page showing another customer's data is caught. Users, invoice profiles and
# sessions are written in bulk (one password hash for all: nobody signs in with it);
# each customer's orders go through orders.services (order_submit, order_approve by
# the seeded reviewer): IN_TRADE in 交易中 to confirm during the load, one awaiting review.
CUSTOMERS_SEED = r"""
import json, secrets, time, uuid
from datetime import timedelta
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from accounts.models import InvoiceProfile
from catalog.models import Service
from orders import services as S
from orders.selectors import agreement_current

COUNT, IN_TRADE, MARKER = %(count)d, %(in_trade)d, %(marker)r
User = get_user_model()
started = time.perf_counter()
password = make_password(uuid.uuid4().hex)
markers = [MARKER %% n for n in range(1, COUNT + 1)]
users = User.objects.bulk_create(
    User(
        username=f"bench{n:04d}", email=f"bench{n:04d}@example.com", password=password,
        real_name=f"压测客户{marker}", mobile="+86139%%08d" %% n, company=f"{marker}商贸有限公司",
    )
    for n, marker in enumerate(markers, 1)
)
users = list(User.objects.filter(username__in=[u.username for u in users]).order_by("username"))
profiles = InvoiceProfile.objects.bulk_create(
    InvoiceProfile(
        user=user, kind="special", title_type="company", title=f"{marker}商贸有限公司",
        taxpayer_id="91310000134511148L", address=f"上海市闵行区号景路{marker}号", phone="021-64000000",
        bank="招商银行上海分行", account="1219 0000 0000 0002", contact=f"压测客户{marker}",
        contact_phone=user.mobile, is_default=True,
    )
    for user, marker in zip(users, markers)
)
profiles = {p.user_id: p for p in InvoiceProfile.objects.filter(user__in=users)}
reviewer = User.objects.get(username="reviewer")
agreement = agreement_current()
on_sale = list(Service.objects.on_sale().order_by("pk").values_list("pk", flat=True))

def details(user, marker):
    return {
        "contract_customer_name": f"{marker}商贸有限公司", "marketplace_order_no": f"FW_GOODS-{user.pk}-1",
        "store_name": f"{marker}旗舰店", "seller_nick": f"shop_{marker}", "service_engineer": "李工",
        "reminder_name": f"压测客户{marker}", "reminder_mobile": user.mobile, "reminder_email": user.email,
        "reminder_cc_email": "", "remarks": "",
    }

sessions, customers = [], []
expire = timezone.now() + timedelta(days=1)
for n, (user, marker) in enumerate(zip(users, markers)):
    own = details(user, marker)
    numbers, in_trade = [], []
    for k in range(IN_TRADE + 1):
        items = [S.CheckoutItem(on_sale[(n * 7 + k * 13 + j) %% len(on_sale)], 1 + j) for j in range(1 + (n + k) %% 2)]
        order = S.order_submit(
            customer=user, items=items, invoice_profile=profiles[user.pk], details=own,
            payment_method="third_party", agreement=agreement, accepted_ip="127.0.0.1", checkout_token=uuid.uuid4(),
        )
        if k < IN_TRADE:
            order = S.order_approve(order=order, actor=reviewer)
            in_trade.append(order.number)
        numbers.append(order.number)
    store = SessionStore()
    data = {
        SESSION_KEY: user._meta.pk.value_to_string(user),
        BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
        HASH_SESSION_KEY: user.get_session_auth_hash(),
    }
    key = store._get_new_session_key()
    sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
    customers.append({
        "id": user.pk, "marker": marker, "session": key, "csrf": secrets.token_hex(16),
        "profile": profiles[user.pk].pk, "orders": numbers, "in_trade": in_trade, "details": own,
    })
Session.objects.bulk_create(sessions)
print("BENCH_CUSTOMERS " + json.dumps({
    "customers": customers,
    "agreement": agreement.pk,
    "seconds": time.perf_counter() - started,
}))
"""


# Run by `manage.py shell` after the many-customers load: waits (at most TIMEOUT s) for
# every document job, then what the load made, per customer, from the database: every
# order of the bench's customers with its status, marker check and documents.
CUSTOMERS_FACTS = r"""
import json, time
from invoicing.models import Contract, DocumentJob, Invoice
from orders.models import Order

TIMEOUT, PREFIX, SINCE = %(timeout)d, %(prefix)r, %(since)r
started = time.monotonic()
open_jobs = DocumentJob.objects.exclude(status__in=["done", "failed"])
while open_jobs.exists() and time.monotonic() - started < TIMEOUT:
    time.sleep(0.5)
orders = Order.objects.filter(customer__username__startswith=PREFIX).select_related("customer")
invoices = dict(Invoice.objects.filter(order__in=orders, purpose="original").values_list("order_id", "pk"))
contracts = set(Contract.objects.filter(order__in=orders).exclude(pdf="").values_list("order_id", flat=True))
rows = [
    {
        "number": o.number, "customer": o.customer_id, "status": o.status, "new": o.pk > SINCE,
        # What the customer typed and chose at checkout carries their own marker.
        "own_marker": o.store_name == o.customer.real_name.removeprefix("压测客户") + "旗舰店"
        and o.invoice_title == o.customer.company,
        "invoice": invoices.get(o.pk), "contract": o.pk in contracts,
    }
    for o in orders.order_by("pk")
]
print("BENCH_FACTS " + json.dumps({
    "orders": rows,
    "jobs_open": open_jobs.count(),
    "jobs_failed": DocumentJob.objects.filter(status="failed").count(),
    "jobs_done": DocumentJob.objects.filter(status="done", order__in=orders).count(),
    "invoices": Invoice.objects.filter(order__in=orders, purpose="original").count(),
    "contracts": len(contracts),
    "max_order": Order.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
    "waited": time.monotonic() - started,
}))
"""
