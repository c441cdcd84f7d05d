"""Hypothesis fuzzing of the forms customers type into: checkout, invoice profiles (add
and edit) and the refund request, POSTed through the test client as a signed-in customer.

Each example starts from a valid POST and, field by field, keeps it, drops it, replaces it
with something nasty (any text, NUL bytes, NaN, 1e309, huge or negative numbers, 100 000
characters, markup) or sends the key twice with different values. Whatever comes in:

- the answer is never a 5xx (the test client re-raises a view's exception, which fails too);
- a POST that is not accepted (anything but the success redirect) changes nothing: the
  counts of orders, lines, invoice profiles, refunds and messages, the edited profile
  and the order's status are as before.

Every example runs in a transaction that is rolled back, so each starts from the same
database (which is why the function-scoped fixtures can be shared by all examples) and a
POST that was accepted does not change what the next one meets. The rate limits are off:
they would answer 429 after a few examples instead of exercising the forms.
"""

import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.models import InvoiceProfile, Message
from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from orders.models import Order, OrderLine
from orders.tests.factories import DETAILS, AgreementFactory
from refunds.models import RefundRequest
from refunds.tests.factories import MOBILE, refundable_order

# Fuzzing runs once, on the PostgreSQL pass when there are two: the production database,
# and the stricter one (it refuses NUL bytes that SQLite stores).
pytestmark = pytest.mark.once

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"

FUZZ = settings(
    max_examples=100,
    deadline=None,
    # The fixtures are made once per test; each example rolls its own writes back.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # nothing written under the project; a failure prints its example
)

# Values people (and scripts) send instead of what a field expects.
NASTY = [
    "",
    " ",
    "\x00",
    "1\x002",
    "NaN",
    "nan",
    "-NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e309",
    "-1e309",
    "1e-309",
    "1E3",
    "0",
    "-0",
    "-1",
    "0.001",
    "1.005",
    "99",
    "100",
    "9" * 30,
    "-" + "9" * 30,
    "18446744073709551616",
    "0x1F",
    "1_000",
    "１２３",  # full-width digits
    "٣",  # Arabic-Indic digit
    "¥100.00",
    "1,000.00",
    " 5 ",
    "5.",
    ".5",
    "true",
    "on",
    "None",
    "null",
    "[]",
    "{}",
    "new",
    "ordinary",
    "special",
    "person",
    "company",
    "bank_transfer",
    str(uuid.uuid4()),
    "00000000-0000-0000-0000-000000000000",
    "<script>alert(1)</script>",
    "'; DROP TABLE orders_order; --",
    "%s%n%x",
    "../../etc/passwd",
    "\u202e\u200b\ufeff",
    "😀" * 20,
    "x" * 100_000,
    "中" * 5_000,
]
# Text without lone surrogates (which no client can encode into a request).
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
nasty = st.one_of(
    st.sampled_from(NASTY),
    any_text,
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
KEEP, DROP = "keep", "drop"
change = st.one_of(
    st.just(KEEP),
    st.just(KEEP),
    st.just(KEEP),
    st.just(DROP),
    nasty,
    st.lists(nasty, min_size=2, max_size=3),  # the key sent more than once
)


def fuzzed_post(base: dict, changes: dict) -> dict:
    """`base` with each field kept, dropped, replaced or duplicated as `changes` says."""
    data = {}
    for name, value in base.items():
        how = changes.get(name, KEEP)
        if how == DROP:
            continue
        data[name] = value if how == KEEP else how
    return data


def changes_for(names) -> st.SearchStrategy:
    return st.fixed_dictionaries(dict.fromkeys(names, change))


def assert_no_server_error(response):
    assert response.status_code < 500, response.status_code


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def client_of(customer):
    client = Client()
    client.force_login(customer, backend=MODEL_BACKEND)
    return client


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.RATELIMIT_ENABLE = False


# --- Checkout --------------------------------------------------------------------------

NEW_PROFILE = {
    "new_invoice-kind": "special",
    "new_invoice-title_type": "company",
    "new_invoice-title": "杭州新开票科技有限公司",
    "new_invoice-taxpayer_id": "91310000134511148L",
    "new_invoice-address": "杭州市西湖区文三路 1 号",
    "new_invoice-phone": "0571-88888888",
    "new_invoice-bank": "招商银行杭州分行",
    "new_invoice-account": "571900000000001",
    "new_invoice-contact": "赵六",
    "new_invoice-contact_phone": "139 0013 9000",
}


@pytest.fixture
def checkout_world(customer):
    service = ServiceFactory(standard_price=Decimal("2000.00"))
    return {
        "service": service,
        "agreement": AgreementFactory(),
        "profile": InvoiceProfileFactory(user=customer, is_default=True),
    }


def checkout_post(world, *, new_profile: bool) -> dict:
    """A valid checkout POST; its quantity field is named `quantity` until posted."""
    return {
        "invoice_profile": "new" if new_profile else str(world["profile"].pk),
        **DETAILS,
        "reminder_mobile": "138 0013 8000",
        "quantity": "1",
        "agreement": str(world["agreement"].pk),
        "agreement_accepted": "on",
        "payment_method": "third_party",
        "checkout_token": str(uuid.uuid4()),
        **NEW_PROFILE,
    }


CHECKOUT_FIELDS = [
    "invoice_profile",
    *DETAILS,
    "quantity",
    "agreement",
    "agreement_accepted",
    "payment_method",
    "checkout_token",
    *NEW_PROFILE,
]


def checkout_rows():
    return (Order.objects.count(), OrderLine.objects.count(), InvoiceProfile.objects.count(), Message.objects.count())


@FUZZ
@given(new_profile=st.booleans(), changes=changes_for(CHECKOUT_FIELDS), cart=st.booleans(), recalculate=st.booleans())
@example(
    new_profile=False,
    changes={"quantity": "1e309", "agreement": "NaN", "checkout_token": "\x00", "invoice_profile": ["1", "new"]},
    cart=False,
    recalculate=False,
)
@example(
    new_profile=True,
    changes={"quantity": "-" + "9" * 30, "new_invoice-taxpayer_id": "\x00" * 18, "new_invoice-kind": DROP},
    cart=False,
    recalculate=True,
)
def test_checkout_post_never_fails_and_a_refused_one_orders_nothing(
    client_of, checkout_world, new_profile, changes, cart, recalculate
):
    service = checkout_world["service"]
    data = fuzzed_post(checkout_post(checkout_world, new_profile=new_profile), changes)
    if "quantity" in data:
        data[f"quantity_{service.pk}"] = data.pop("quantity")
    if recalculate:
        data["recalculate"] = "1"  # 更新金额
    url = reverse("orders:checkout-cart") if cart else reverse("orders:checkout", args=[service.pk])
    with transaction.atomic():
        before = checkout_rows()
        response = client_of.post(url, data)
        assert_no_server_error(response)
        if not (response.status_code == 302 and Order.objects.count() == before[0] + 1):
            assert checkout_rows() == before, data
        transaction.set_rollback(True)


# --- Invoice profiles ------------------------------------------------------------------

PROFILE_POST = {
    "kind": "special",
    "title_type": "company",
    "title": "上海云测贸易有限公司",
    "taxpayer_id": "91310000134511148L",
    "address": "上海市闵行区号景路 206 弄",
    "phone": "021-12345678",
    "bank": "招商银行上海分行",
    "account": "121900000000001",
    "contact": "王小明",
    "contact_phone": "138 0013 8000",
}


@FUZZ
@given(edit=st.booleans(), changes=changes_for(PROFILE_POST))
@example(edit=True, changes={"taxpayer_id": "9" * 100_000, "contact_phone": "\x00", "kind": ["special", "ordinary"]})
def test_invoice_profile_post_never_fails_and_a_refused_one_changes_nothing(client_of, customer, edit, changes):
    data = fuzzed_post(PROFILE_POST, changes)
    with transaction.atomic():
        profile = InvoiceProfileFactory(user=customer, is_default=True)
        if edit:
            url = reverse("accounts:invoice-profile-edit", args=[profile.pk])
        else:
            url = reverse("accounts:invoice-profile-add")
        before = (InvoiceProfile.objects.count(), model_to_dict(profile))
        response = client_of.post(url, data)
        assert_no_server_error(response)
        if response.status_code != 302:
            profile.refresh_from_db()
            assert (InvoiceProfile.objects.count(), model_to_dict(profile)) == before, data
        transaction.set_rollback(True)


# --- Refund request --------------------------------------------------------------------

REFUND_POST = {"amount": "500.00", "reason": "unwanted", "description": "不再需要", "contact_mobile": MOBILE}


@pytest.fixture
def refund_order(customer):
    return refundable_order(Order.Status.IN_TRADE, customer=customer)


@FUZZ
@given(changes=changes_for(REFUND_POST))
@example(changes={"amount": "1e309", "reason": KEEP, "description": KEEP, "contact_mobile": KEEP})
@example(changes={"amount": "NaN", "reason": ["other", "other"], "description": DROP, "contact_mobile": "\x00"})
def test_refund_post_never_fails_and_a_refused_one_changes_nothing(client_of, refund_order, changes):
    data = fuzzed_post(REFUND_POST, changes)
    url = reverse("refunds:request", args=[refund_order.number])
    refund_order.refresh_from_db()  # the previous example's changes were rolled back
    with transaction.atomic():
        before = (RefundRequest.objects.count(), refund_order.status, refund_order.refunded_amount)
        response = client_of.post(url, data)
        assert_no_server_error(response)
        refund_order.refresh_from_db()
        if not (response.status_code == 302 and RefundRequest.objects.count() == before[0] + 1):
            assert (RefundRequest.objects.count(), refund_order.status, refund_order.refunded_amount) == before, data
        transaction.set_rollback(True)


def test_the_posts_the_fuzzing_starts_from_are_accepted(client_of, customer, checkout_world, refund_order):
    """Without this, a base POST that no longer passes would leave the fuzzing to check
    refusals only."""
    service = checkout_world["service"]
    orders = Order.objects.count()
    for new_profile in (False, True):
        data = checkout_post(checkout_world, new_profile=new_profile)
        data[f"quantity_{service.pk}"] = data.pop("quantity")
        response = client_of.post(reverse("orders:checkout", args=[service.pk]), data)
        assert response.status_code == 302, response.context["form"].errors
    assert Order.objects.count() == orders + 2
    profile = checkout_world["profile"]
    assert client_of.post(reverse("accounts:invoice-profile-add"), PROFILE_POST).status_code == 302
    assert client_of.post(reverse("accounts:invoice-profile-edit", args=[profile.pk]), PROFILE_POST).status_code == 302
    profile.refresh_from_db()
    assert profile.kind == "special"
    response = client_of.post(reverse("refunds:request", args=[refund_order.number]), REFUND_POST)
    assert response.status_code == 302
    assert RefundRequest.objects.get().order == refund_order
