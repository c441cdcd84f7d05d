#!/usr/bin/env python3
"""`make bench`: throughput and latency of the public and signed-in pages under gunicorn.

What it measures
    The "Targets" of the design (DESIGN.md): each page's requests per second as a
    ratio to the same server's `/healthz` in the same run (the ratio cancels out
    the machine), and its latency percentiles (p50, p95, p99) at 16 connections.
    Public pages (home, service list, service detail) should keep ≥ 0.5 of
    `/healthz`; signed-in pages (checkout, My Orders with 500 orders, order
    detail) ≥ 0.2; every page p95 < 200 ms.
    `/healthz` is the floor cost of a request through gunicorn, the middleware
    stack and the WSGI handler; a page's ratio shows what its queries and
    template add on top. `/healthz` is measured again last: when the machine's
    other load changes during the run, that row's ratio drifts from 1.00 and the
    table says the ratios are unreliable.

How
    1. An isolated environment under var/bench/: a fresh SQLite database
       (or the PostgreSQL database named by BENCH_DATABASE_URL, dropped and
       recreated), production settings with a random secret key, DEBUG off,
       no Redis, STATIC_ROOT and MEDIA_ROOT of its own. Then `migrate`,
       `collectstatic --noinput` and `seed_demo --quiet --force`.
    1b. The bench customer (`manage.py shell`, BENCH_CUSTOMER): a new account with
       ORDER_COUNT orders made through the shop's own services (order_submit, then
       order_approve / order_reject by a seeded reviewer and order_cancel /
       order_confirm_receipt by the customer), so My Orders pages through 500 orders
       in every state; and a session for it written straight to the session table
       (the auth session keys, as login() would set them): no login form, no
       password hashing, no django-axes. The signed-in pages send it as
       `Cookie: sessionid=...`; SESSION_COOKIE_SECURE does not matter, since wrk
       sends the cookie as a raw header. The time each service call took is
       logged and printed with the table.
    2. gunicorn (2 sync workers, as in production) on a free port of 127.0.0.1.
    3. For each endpoint: one GET that must answer 200 (a signed-in page with the
       cookie: a 302 means the session did not sign in), a short wrk warm-up,
       then the measured wrk run. wrk runs from 127.0.0.1 only, for a bounded time.
       Checkout POST is not measured: every request would need a CSRF token and a
       fresh checkout token, and every success writes an order (the table says so).
    4. Documents (after gunicorn stopped, so nothing else loads the machine): the
       invoice information sheet and the signed contract of the bench customer's
       fullest order (3 lines), each rendered BENCH_PDF_RUNS times after a warm-up
       run in one `manage.py shell`: median/min/max ms, size and pages, against
       DESIGN.md's targets (invoice ≤ 150 ms, contract ≤ 300 ms, each < 150 KB).
    5. A real worker: a private redis-server on a free port of 127.0.0.1 (no
       persistence) and `celery -A mall worker --pool prefork --concurrency 2`
       on the bench database; BENCH_WORKER_ORDERS orders in 交易成功 are cloned in
       bulk from the bench customer's (new numbers and serials, no documents) with
       a pending DocumentJob each, all sent with documents_enqueue once the worker
       listens, and timed until every job is done (bounded by BENCH_WORKER_TIMEOUT).
       It counts invoices and contracts: anything but exactly one each per order
       fails the run.
    6. A Markdown table on stdout and in var/bench/latest.md.
    gunicorn, the worker and redis-server are always stopped at the end (each
    its whole process group), also on failure or Ctrl-C.

Why every request sends `X-Forwarded-Proto: https`
    In production a TLS proxy terminates HTTPS and sets that header; the
    production settings trust it (SECURE_PROXY_SSL_HEADER) and redirect any
    request without it to https:// (SECURE_SSL_REDIRECT). Without the header
    every request would be a 301 and the bench would measure the redirect
    instead of the page. The header is sent both by the 200-check and by wrk.

Errors
    Any non-2xx response (counted by a small wrk Lua script: wrk's own
    "Non-2xx or 3xx" line only counts status >= 400) or socket error/timeout
    counts in the "errors" column, and a run with errors exits 1; so does a
    worker run that leaves an order without exactly one invoice and one contract.
    A setup failure (command fails, server does not start, a page does not
    answer 200, the worker exits) exits 2.

Environment (all optional)
    BENCH_DURATION      seconds of each measured run (default 10)
    BENCH_WARMUP        seconds of each warm-up run (default 2; 0 skips it)
    BENCH_CONNECTIONS   wrk connections (default 16)
    BENCH_THREADS       wrk threads (default 2)
    BENCH_WORKERS       gunicorn workers (default 2)
    BENCH_DATABASE_URL  a PostgreSQL URL instead of SQLite; the database name must
                        contain "bench" because the bench drops and recreates it
                        (SQLite has one writer at a time: the worker run's jobs
                        queue up on its lock and some are retried)
    BENCH_PDF_RUNS      renders of each PDF (default 20)
    BENCH_WORKER_ORDERS orders for the worker run (default 200)
    BENCH_WORKER_CONCURRENCY  the worker's prefork processes (default 2)
    BENCH_WORKER_TIMEOUT      seconds the worker run may take at most (default 600)

Run: `make bench`, or `.venv/bin/python scripts/bench.py` once the venv exists.
Only the standard library (and, for PostgreSQL, the venv's psycopg2/environ); the
scripts run by `manage.py shell` use the venv (pypdf, redis).
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import platform as platform_module
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "var" / "bench"
VENV_BIN = BASE_DIR / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
GUNICORN = VENV_BIN / "gunicorn"
CELERY = VENV_BIN / "celery"

HOST = "127.0.0.1"
FORWARDED_PROTO = ("X-Forwarded-Proto", "https")
STARTUP_TIMEOUT = 60  # seconds for gunicorn to answer /healthz
STOP_TIMEOUT = 10  # seconds for gunicorn to stop on SIGTERM before SIGKILL
DRIFT_WARNING = 0.15  # warn when /healthz at the end differs from the start by more than this

# wrk's Lua hooks: count non-2xx responses per thread, and print one
# machine-readable line with the totals and latency percentiles (microseconds).
WRK_LUA = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, "status_ge_400": %d, "non2xx": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status, bad,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""


class BenchError(Exception):
    """A setup step failed: the bench cannot produce a meaningful table."""


@dataclass(frozen=True)
class Config:
    duration: int
    warmup: int
    connections: int
    threads: int
    workers: int
    database_url: str | None
    pdf_runs: int
    worker_orders: int
    worker_concurrency: int
    worker_timeout: int

    @classmethod
    def from_env(cls) -> Config:
        def positive(name, default, minimum=1):
            raw = os.environ.get(name, "").strip() or str(default)
            try:
                value = int(raw)
            except ValueError:
                raise BenchError(f"{name} must be a whole number, not {raw!r}") from None
            if value < minimum:
                raise BenchError(f"{name} must be at least {minimum}, not {value}")
            return value

        config = cls(
            duration=positive("BENCH_DURATION", 10),
            warmup=positive("BENCH_WARMUP", 2, minimum=0),
            connections=positive("BENCH_CONNECTIONS", 16),
            threads=positive("BENCH_THREADS", 2),
            workers=positive("BENCH_WORKERS", 2),
            database_url=os.environ.get("BENCH_DATABASE_URL") or None,
            pdf_runs=positive("BENCH_PDF_RUNS", 20),
            worker_orders=positive("BENCH_WORKER_ORDERS", 200),
            worker_concurrency=positive("BENCH_WORKER_CONCURRENCY", 2),
            worker_timeout=positive("BENCH_WORKER_TIMEOUT", 600),
        )
        if config.threads > config.connections:
            raise BenchError("BENCH_THREADS must not exceed BENCH_CONNECTIONS (wrk needs a connection per thread)")
        return config


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str  # as requested: percent-encoded
    session: str | None = None  # the bench customer's session key: a signed-in page

    @property
    def shown(self) -> str:
        return unquote(self.path)

    @property
    def group(self) -> str:
        if self.path == "/healthz":
            return "baseline"
        return "signed-in" if self.session else "public"

    def headers(self) -> dict[str, str]:
        """As the TLS proxy forwards a browser's request; the session cookie for a signed-in page."""
        headers = {FORWARDED_PROTO[0]: FORWARDED_PROTO[1]}
        if self.session:
            headers["Cookie"] = f"sessionid={self.session}"
        return headers


@dataclass(frozen=True)
class Result:
    endpoint: Endpoint
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    error_detail: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- environment -------------------------------------------------------------------


def bench_environment(config: Config) -> dict[str, str]:
    """The process environment of every manage.py command and of gunicorn.

    Every variable the settings read that matters here is set explicitly, so a
    developer's shell or .env (read with overwrite=False) cannot leak in.
    """
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="mall.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="False",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="True",
        DATABASE_URL=config.database_url or f"sqlite:///{BENCH_DIR / 'db.sqlite3'}",
        REDIS_URL="",  # empty = unset: per-process cache, tasks in-process
        STATIC_ROOT=str(BENCH_DIR / "static"),
        MEDIA_ROOT=str(BENCH_DIR / "media"),
        EMAIL_URL="consolemail://",
        PYTHONUNBUFFERED="1",
    )
    return env


def fresh_database(config: Config) -> None:
    if config.database_url is None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (BENCH_DIR / f"db.sqlite3{suffix}").unlink(missing_ok=True)
        return
    fresh_postgres_database(config.database_url)


def fresh_postgres_database(url: str) -> None:
    """Drop and recreate the database BENCH_DATABASE_URL names (its name must say 'bench')."""
    import environ  # the venv's django-environ: parses the URL as the settings will
    import psycopg2
    from psycopg2 import sql

    db = environ.Env.db_url_config(url)
    if "postgresql" not in db["ENGINE"]:
        raise BenchError(f"BENCH_DATABASE_URL must be a PostgreSQL URL, got engine {db['ENGINE']}")
    name = db["NAME"]
    if "bench" not in name:
        raise BenchError(f"BENCH_DATABASE_URL names database {name!r}: the bench drops it, so its name must contain 'bench'")
    connection = psycopg2.connect(
        dbname="postgres",
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        connect_timeout=5,
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def manage(env: dict[str, str], *args: str) -> str:
    """Run a manage.py command; its output on success, BenchError with the output on failure."""
    command = [str(PYTHON), "manage.py", *args]
    completed = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()
        raise BenchError(f"`{' '.join(command[1:])}` failed (exit {completed.returncode}):\n{output[-4000:]}")
    return completed.stdout


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


def pick_ids(env: dict[str, str]) -> dict:
    output = manage(env, "shell", "-c", PICK_IDS)
    match = re.search(r"^BENCH_IDS (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"could not read ids from the seeded database:\n{output}")
    ids = json.loads(match.group(1))
    missing = [what for what, key in (("product line E3", "e3"), ("platform 京东", "jd"), ("a service on sale", "detail")) if ids[key] is None]
    if missing:
        raise BenchError(f"seed_demo did not create {', '.join(missing)}")
    return ids


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
agreement = S.agreement_current()
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
    order = timed("submit", S.order_submit,
        customer=customer, items=items, invoice_profile=profile, details=details,
        payment_method=("third_party", "bank_transfer")[i %% 2], agreement=agreement,
        accepted_ip="127.0.0.1", checkout_token=uuid.uuid4(),
    )
    plan = PLAN[i %% len(PLAN)]
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
    "orders": sum(counts.values()),
    "by_status": counts,
    "seconds": time.perf_counter() - started,
    "timings": timings,
    "calls": calls,
}))
"""


def bench_customer(env: dict[str, str]) -> dict:
    output = manage(env, "shell", "-c", BENCH_CUSTOMER % {"count": ORDER_COUNT})
    match = re.search(r"^BENCH_CUSTOMER (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"could not make the bench customer:\n{output}")
    customer = json.loads(match.group(1))
    if customer["orders"] != ORDER_COUNT or not customer["detail_number"]:
        raise BenchError(f"the bench customer has {customer['orders']} orders, not {ORDER_COUNT}: {customer}")
    return customer


def endpoints(ids: dict, customer: dict) -> list[Endpoint]:
    session = customer["session"]
    return [
        Endpoint("healthz", "/healthz"),  # the baseline: first, and every ratio divides by it
        Endpoint("home", "/"),
        Endpoint("service list", "/services/"),
        Endpoint("service list, E3 × 京东", "/services/?" + urlencode({"product": ids["e3"], "platform": ids["jd"]})),
        Endpoint("service list, keyword", "/services/?" + urlencode({"q": "京东"})),
        Endpoint("service detail", f"/services/{ids['detail']}/"),
        # Signed in as the bench customer (its session cookie; ORDER_COUNT orders).
        Endpoint("checkout", f"/checkout/{ids['detail']}/", session),
        Endpoint("My Orders", "/account/orders/", session),
        Endpoint("My Orders, 交易中 tab", "/account/orders/?" + urlencode({"tab": "in_trade"}), session),
        Endpoint("order detail", f"/account/orders/{customer['detail_number']}/", session),
        # Again at the end: if the machine's load changed during the run, this
        # row's ratio drifts away from 1.00 and the other ratios are suspect.
        Endpoint("healthz, again", "/healthz"),
    ]


# --- gunicorn ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def get(port: int, path: str, timeout: float = 10, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One GET as the TLS proxy would forward it; redirects are not followed."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {FORWARDED_PROTO[0]: FORWARDED_PROTO[1]})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def start_gunicorn(env: dict[str, str], port: int, workers: int, log_file) -> subprocess.Popen:
    command = [
        str(GUNICORN),
        "mall.wsgi:application",
        "--workers", str(workers),
        "--bind", f"{HOST}:{port}",
        "--no-control-socket",  # gunicorn 27 otherwise opens a socket under ~/.gunicorn/
    ]
    log(f"starting {' '.join(command[1:])}")
    # Its own session, so that stopping it means killing one process group.
    return subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until_healthy(server: subprocess.Popen, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"gunicorn exited with {server.returncode}; see {log_path}:\n{tail(log_path)}")
        try:
            status, _ = get(port, "/healthz", timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer /healthz within {STARTUP_TIMEOUT}s; see {log_path}:\n{tail(log_path)}")


def stop_gunicorn(server: subprocess.Popen) -> None:
    """SIGTERM the whole process group (master and workers), SIGKILL if it lingers."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        server.wait()
        return
    try:
        server.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log("gunicorn did not stop on SIGTERM: killing it")
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.wait()
    # Workers left behind by a master that died first.
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- wrk -----------------------------------------------------------------------------


def check_200(port: int, endpoint: Endpoint, log_path: Path) -> None:
    try:
        status, body = get(port, endpoint.path, headers=endpoint.headers())
    except OSError as error:
        raise BenchError(f"GET {endpoint.path} failed: {error}") from None
    if status != 200:
        snippet = body[:500].decode(errors="replace")
        signed_in = " with the bench customer's session cookie (a 302 is a redirect to sign-in)" if endpoint.session else ""
        raise BenchError(
            f"GET {endpoint.path}{signed_in} answered {status}, not 200: refusing to load it.\n{snippet}\n"
            f"gunicorn log {log_path}:\n{tail(log_path)}"
        )


def wrk(config: Config, port: int, endpoint: Endpoint, seconds: int, lua: Path, raw_log) -> dict | None:
    command = [
        "wrk",
        "--threads", str(config.threads),
        "--connections", str(config.connections),
        "--duration", f"{seconds}s",
        "--timeout", "5s",
        "--latency",
        *[arg for name, value in endpoint.headers().items() for arg in ("--header", f"{name}: {value}")],
        "--script", str(lua),
        f"http://{HOST}:{port}{endpoint.path}",
    ]
    completed = subprocess.run(command, capture_output=True, text=True)
    raw_log.write(f"$ {' '.join(command)}\n{completed.stdout}{completed.stderr}\n")
    raw_log.flush()
    if completed.returncode != 0:
        raise BenchError(f"wrk failed on {endpoint.path} (exit {completed.returncode}):\n{completed.stderr}")
    match = re.search(r"^BENCH_RESULT (.*)$", completed.stdout, re.MULTILINE)
    if not match:
        raise BenchError(f"wrk printed no result for {endpoint.path}:\n{completed.stdout}")
    return json.loads(match.group(1))


def measure(config: Config, port: int, endpoint: Endpoint, lua: Path, raw_log) -> Result:
    if config.warmup:
        wrk(config, port, endpoint, config.warmup, lua, raw_log)
    data = wrk(config, port, endpoint, config.duration, lua, raw_log)
    socket_errors = {key: data[key] for key in ("connect", "read", "write", "timeout") if data[key]}
    detail = ", ".join(
        [f"{data['non2xx']} non-2xx"] * bool(data["non2xx"]) + [f"{n} {kind}" for kind, n in socket_errors.items()]
    )
    return Result(
        endpoint=endpoint,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["non2xx"] + sum(socket_errors.values()),
        error_detail=detail,
    )


# --- documents: the PDFs, and a real worker on Redis -----------------------------------


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


def pdf_render(env: dict[str, str], config: Config, number: str) -> dict:
    output = manage(env, "shell", "-c", PDF_RENDER % {"runs": config.pdf_runs, "number": number})
    match = re.search(r"^BENCH_PDF (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"could not time the PDFs:\n{output}")
    return json.loads(match.group(1))


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
WORKER_QUEUE = "celery"  # Celery's default queue, on a Redis of the bench's own


def start_redis(port: int, log_file) -> subprocess.Popen:
    """A private redis-server for the worker run: 127.0.0.1 only, no persistence."""
    redis_dir = BENCH_DIR / "redis"
    redis_dir.mkdir(exist_ok=True)
    command = [
        "redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
        "--daemonize", "no", "--dir", str(redis_dir),
    ]
    log(f"starting {' '.join(command)}")
    server = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"redis-server exited with {server.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(64).startswith(b"+PONG"):
                    return server
        except OSError:
            pass
        time.sleep(0.1)
    stop_process_group(server, "redis-server")
    raise BenchError(f"redis-server did not answer on port {port} within {STARTUP_TIMEOUT}s")


def start_worker(env: dict[str, str], concurrency: int, log_file) -> subprocess.Popen:
    command = [
        str(CELERY), "-A", "mall", "worker",
        "--pool", "prefork",
        "--concurrency", str(concurrency),
        "-Q", WORKER_QUEUE,
        "-n", "bench@%h",
        "--loglevel", "warning",
        "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]
    log(f"starting celery {' '.join(command[1:])}")
    return subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process_group(process: subprocess.Popen, name: str) -> None:
    """SIGTERM the process group (a prefork worker: its pool children too), SIGKILL
    what is left after STOP_TIMEOUT."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log(f"{name} did not stop on SIGTERM: killing it")
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def worker_run(env: dict[str, str], config: Config) -> dict:
    """The documents of config.worker_orders confirmed orders made by a real worker
    (prefork, config.worker_concurrency processes) taking them from a private Redis."""
    port = free_port()
    worker_env = dict(env, REDIS_URL=f"redis://{HOST}:{port}/0")
    log_path = BENCH_DIR / "worker.log"
    redis_server = worker = None
    with open(log_path, "w") as log_file:
        try:
            redis_server = start_redis(port, log_file)
            worker = start_worker(worker_env, config.worker_concurrency, log_file)
            log(f"{config.worker_orders} confirmed orders for the worker (timeout {config.worker_timeout} s)")
            script = WORKER_RUN % {"count": config.worker_orders, "timeout": config.worker_timeout, "queue": WORKER_QUEUE}
            output = manage(worker_env, "shell", "-c", script)
            if worker.poll() is not None:
                raise BenchError(f"the worker exited with {worker.returncode}; see {log_path}:\n{tail(log_path)}")
        finally:
            if worker is not None:
                stop_process_group(worker, "the worker")
            if redis_server is not None:
                stop_process_group(redis_server, "redis-server")
            log("worker and redis-server stopped")
    match = re.search(r"^BENCH_WORKER (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"the worker run printed no result:\n{output}")
    result = json.loads(match.group(1))
    result.update(concurrency=config.worker_concurrency, port=port)
    return result


# --- report --------------------------------------------------------------------------


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = "unknown CPU"
    ram = "? GiB"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return f"{cpus} CPUs (nproc), {model}, {ram} RAM, {platform_module.system()} {platform_module.release()}"


def git_revision() -> str:
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=BASE_DIR, capture_output=True, text=True
        ).stdout.strip()
        return revision + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# The targets of DESIGN.md by group: the least ratio to /healthz; every page's p95 stays under P95_TARGET_MS.
RATIO_TARGETS = {"public": 0.5, "signed-in": 0.2}
P95_TARGET_MS = 200


def report(
    config: Config,
    results: list[Result],
    started: datetime.datetime,
    load: str,
    ids: dict,
    customer: dict,
    setup_seconds: float,
    documents: dict,
) -> str:
    baseline = results[0].rps if results and results[0].endpoint.path == "/healthz" else 0.0
    database = "PostgreSQL (BENCH_DATABASE_URL)" if config.database_url else "SQLite (var/bench/db.sqlite3)"
    lines = [
        f"## make bench — {started:%Y-%m-%d %H:%M %Z}".rstrip(),
        "",
        f"- Machine: {machine()}; wrk and gunicorn share it; load average {load} before the run",
        f"- Run: {config.duration} s per endpoint after a {config.warmup} s warm-up, "
        f"{config.connections} connections, {config.threads} wrk threads, "
        f"gunicorn {config.workers} sync workers, production settings, {database}, no Redis",
        f"- Data: seed_demo, {ids['on_sale']} services on sale ({ids['e3_jd']} for E3 × 京东); git {git_revision()}",
        f"- Signed-in pages: the bench customer's session cookie (made in the database, not through the login form); "
        f"{customer['orders']} orders ({status_summary(customer['by_status'])}) made through orders.services "
        f"in {customer['seconds']:.1f} s (order_submit {mean_ms(customer, 'submit'):.1f} ms a call); "
        f"whole setup {setup_seconds:.0f} s",
        "- Not measured: checkout POST (each request needs a CSRF token and a fresh checkout token, "
        "and every success writes an order)",
        "",
        "| endpoint | page | req/s | p50 ms | p95 ms | p99 ms | ratio to /healthz | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        ratio = f"{result.rps / baseline:.2f}" if baseline else "–"
        lines.append(
            f"| {result.endpoint.name} `{result.endpoint.shown}` | {result.endpoint.group} | {result.rps:,.0f} | "
            f"{result.p50_ms:.1f} | {result.p95_ms:.1f} | {result.p99_ms:.1f} | {ratio} | {result.errors} |"
        )
    failed = [r for r in results if r.errors]
    if failed:
        lines += ["", "Errors: " + "; ".join(f"{r.endpoint.shown}: {r.error_detail}" for r in failed)]
    repeats = [r for r in results[1:] if r.endpoint.path == "/healthz"]
    drift = repeats[-1].rps / baseline - 1 if baseline and repeats else 0.0
    if abs(drift) > DRIFT_WARNING:
        lines += [
            "",
            f"Warning: /healthz changed by {drift:+.0%} between the start and the end of the run "
            "(other load on the machine?): the ratios are unreliable, run it again.",
        ]
    lines += ["", f"Targets (DESIGN.md), p95 < {P95_TARGET_MS} ms at {config.connections} connections for every page:"]
    if config.connections != 16:
        lines.append("(the targets are stated at 16 connections: this run used another count)")
    for group, target in RATIO_TARGETS.items():
        members = [r for r in results if r.endpoint.group == group]
        misses = []
        for result in members:
            if baseline and result.rps / baseline < target:
                misses.append(f"{result.endpoint.name} ratio {result.rps / baseline:.2f}")
            if result.p95_ms >= P95_TARGET_MS:
                misses.append(f"{result.endpoint.name} p95 {result.p95_ms:.0f} ms")
        verdict = "missed: " + "; ".join(misses) + "." if misses else f"all {len(members)} met in this run."
        lines.append(f"- {group} pages, ratio ≥ {target}: {verdict}")
    lines += documents_report(config, documents)
    return "\n".join(lines) + "\n"


# The targets of DESIGN.md for the documents: median render time, and size.
PDF_TARGETS = {"invoice": ("invoice information sheet", 150), "contract": ("contract, rendered + signed", 300)}
PDF_MAX_BYTES = 150_000


def documents_report(config: Config, documents: dict) -> list[str]:
    pdf = documents["pdf"]
    lines = [
        "",
        f"Documents: order `{pdf['number']}` ({pdf['lines']} lines), median of {pdf['runs']} renders after a warm-up "
        "run, one process (`manage.py shell`), production settings:",
        "",
        "| document | median ms | min ms | max ms | size KiB | pages | target | met |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for key, (name, target_ms) in PDF_TARGETS.items():
        row = pdf[key]
        met = row["median_ms"] <= target_ms and row["bytes"] < PDF_MAX_BYTES
        lines.append(
            f"| {name} | {row['median_ms']:.1f} | {row['min_ms']:.1f} | {row['max_ms']:.1f} | "
            f"{row['bytes'] / 1024:.1f} | {row['pages']} | ≤ {target_ms} ms, < {PDF_MAX_BYTES // 1000} KB | "
            f"{'yes' if met else 'no'} |"
        )
    worker = documents["worker"]
    if worker is None:
        return lines + ["", "Worker run skipped: no redis-server on this machine."]
    database = "PostgreSQL (BENCH_DATABASE_URL)" if config.database_url else "SQLite (var/bench/db.sqlite3)"
    seconds = worker["seconds"]
    lines += [
        "",
        f"Worker: `celery -A mall worker --pool prefork --concurrency {worker['concurrency']}` on a private "
        f"redis-server (127.0.0.1:{worker['port']}), {database}; {worker['orders']} orders in 交易成功 "
        f"({worker['lines']} lines) made in bulk with their document jobs, then all sent with documents_enqueue "
        f"(took {worker['enqueue_seconds']:.2f} s) and timed until every job was done; "
        "a document is an invoice sheet or a signed contract:",
        "",
        "| run | orders | documents | seconds | orders/s | docs/s | median ms per order | processes used | attempts | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {worker['orders']} orders, {worker['concurrency']} processes | {worker['done']} | "
        f"{worker['invoices'] + worker['contracts']} | {seconds:.1f} | {worker['done'] / seconds:.1f} | "
        f"{(worker['invoices'] + worker['contracts']) / seconds:.1f} | {worker['median_ms']:.0f} | "
        f"{worker['processes']} | {worker['attempts']} | {worker['failed'] + worker['not_sent']} |",
    ]
    if not config.database_url:
        lines += [
            "",
            "SQLite lets one process write at a time: a job that found the database locked was retried after "
            "its backoff (attempts above the order count). Set BENCH_DATABASE_URL for the figure PostgreSQL gives.",
        ]
    if worker["done"] != worker["orders"] or worker["invoices"] != worker["done"] or worker["contracts"] != worker["done"]:
        lines += [
            "",
            f"Error: {worker['done']} of {worker['orders']} jobs done, {worker['invoices']} invoices and "
            f"{worker['contracts']} contracts ({worker['not_sent']} not sent, {worker['failed']} failed); "
            "see var/bench/worker.log.",
        ]
    return lines


def documents_failed(documents: dict) -> bool:
    worker = documents["worker"]
    return worker is not None and not (worker["done"] == worker["invoices"] == worker["contracts"] == worker["orders"])


def status_summary(by_status: dict) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(by_status.items(), key=lambda item: -item[1]))


def mean_ms(customer: dict, call: str) -> float:
    return 1000 * customer["timings"][call] / customer["calls"][call] if customer["calls"][call] else 0.0


# --- main ----------------------------------------------------------------------------


def preflight() -> None:
    for path in (PYTHON, GUNICORN):
        if not path.exists():
            raise BenchError(f"{path} is missing: run `make install-dev` (or `make bench`) first")
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: `scripts/install-system-packages.sh bench` installs it")
    if not (BASE_DIR / "catalog" / "management" / "commands" / "seed_demo.py").exists():
        raise BenchError("catalog/management/commands/seed_demo.py is missing: the bench needs its demo data")


def run(config: Config) -> int:
    preflight()
    started = datetime.datetime.now().astimezone()
    load = " ".join(f"{n:.2f}" for n in os.getloadavg())
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    env = bench_environment(config)

    log("fresh database, migrate, collectstatic, seed_demo")
    setup_started = time.monotonic()
    fresh_database(config)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    manage(env, "seed_demo", "--quiet", "--force")
    ids = pick_ids(env)
    log(f"the bench customer: {ORDER_COUNT} orders through orders.services, and a session")
    customer = bench_customer(env)
    log(
        f"the bench customer's orders took {customer['seconds']:.1f} s: "
        + ", ".join(
            f"{call} {customer['calls'][call]} × {mean_ms(customer, call):.1f} ms" for call in customer["calls"]
        )
    )
    targets = endpoints(ids, customer)
    setup_seconds = time.monotonic() - setup_started
    log(f"setup took {setup_seconds:.1f} s")

    port = free_port()
    log_path = BENCH_DIR / "gunicorn.log"
    results = []
    with open(log_path, "w") as log_file, open(BENCH_DIR / "wrk.log", "w") as raw_log, \
            tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench_", dir=BENCH_DIR) as lua:
        lua.write(WRK_LUA)
        lua.flush()
        server = None
        try:
            server = start_gunicorn(env, port, config.workers, log_file)
            wait_until_healthy(server, port, log_path)
            for endpoint in targets:
                check_200(port, endpoint, log_path)
            for endpoint in targets:
                log(f"loading {endpoint.shown} for {config.warmup} + {config.duration} s")
                results.append(measure(config, port, endpoint, Path(lua.name), raw_log))
                if server.poll() is not None:
                    raise BenchError(f"gunicorn died during the run; see {log_path}:\n{tail(log_path)}")
        finally:
            if server is not None:
                stop_gunicorn(server)
                log("gunicorn stopped")

    log(f"PDFs of order {customer['detail_number']}: {config.pdf_runs} renders each after a warm-up")
    pdfs = pdf_render(env, config, customer["detail_number"])
    documents = {"pdf": pdfs, "worker": None}
    if shutil.which("redis-server") is None:
        log("no redis-server: the worker run is skipped (`scripts/install-system-packages.sh bench` installs it)")
    else:
        documents["worker"] = worker_run(env, config)

    table = report(config, results, started, load, ids, customer, setup_seconds, documents)
    (BENCH_DIR / "latest.md").write_text(table)
    print(table)
    log(f"table written to {(BENCH_DIR / 'latest.md').relative_to(BASE_DIR)}; raw wrk output in var/bench/wrk.log")
    if any(result.errors for result in results):
        log("FAILED: some responses were errors (see the errors column)")
        return 1
    if documents_failed(documents):
        log("FAILED: the worker did not make every order's documents exactly once (see var/bench/worker.log)")
        return 1
    return 0


def raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    # SIGTERM/SIGHUP take the same path as Ctrl-C, so `finally` stops gunicorn.
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.signal(signal.SIGHUP, raise_interrupt)
    try:
        return run(Config.from_env())
    except BenchError as error:
        log(f"FAILED: {error}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
