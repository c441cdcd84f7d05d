"""Traffic for the fault tests (tests/faults/): a real gunicorn on a free port of
127.0.0.1 and client threads sending a bounded stream of mixed requests to it: browse
pages, checkout POSTs that create orders, 确认收货 POSTs. Not a test module itself.

Every request is recorded (kind, status, when, how long, its key: the checkout token or
the order number), so a test can say which answers it accepts and when, and which
orders must exist afterwards. Each request opens its own connection: a server or
database restart then costs one request, not a stuck keep-alive socket.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from .helpers import BASE_DIR, LOCALHOST, free_port, process_stop

GUNICORN = Path(sys.executable).with_name("gunicorn")
PYTHON = sys.executable
REQUEST_TIMEOUT = 30  # seconds a client waits for an answer (gunicorn's own timeout too)


def web_server_start(*, env: dict, log_path: Path, workers: int = 2, timeout: float = 60) -> tuple[subprocess.Popen, int]:
    """gunicorn serving mall.wsgi on a free port of 127.0.0.1, answering /healthz; its
    process group is its own (process_stop ends the workers too)."""
    port = free_port()
    command = [
        str(GUNICORN), "mall.wsgi:application",
        "--bind", f"{LOCALHOST}:{port}",
        "--workers", str(workers),
        "--timeout", str(REQUEST_TIMEOUT),
        "--graceful-timeout", "5",
        "--no-control-socket",
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if request(port, "GET", "/healthz", timeout=2)[0] == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.1)
    process_stop(process)
    raise RuntimeError(f"gunicorn did not answer /healthz on port {port}:\n{Path(log_path).read_text(errors='replace')}")


def request(port, method, path, *, headers=None, body=None, timeout=REQUEST_TIMEOUT) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection(LOCALHOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def manage(*args, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    """`manage.py <args>` in another process, with the server's environment."""
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )


def reconcile_json(env: dict) -> dict:
    """`manage.py reconcile --json --files` as an operator would run it on the server, its
    JSON and exit status (0 clean, 1 findings) under "exit"."""
    result = manage("reconcile", "--json", "--files", env=env)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"reconcile failed ({result.returncode}):\n{result.stderr}")
    return {**json.loads(result.stdout), "exit": result.returncode}


@dataclass
class Outcome:
    kind: str  # "browse", "checkout", "confirm"; "client": the client thread itself failed
    path: str
    key: str  # the checkout token, or the order number confirmed; "" for browse
    status: int | None  # None: no answer (connection refused or reset, timeout)
    error: str
    started: float  # time.monotonic()
    elapsed: float
    location: str = ""


@dataclass
class Shopper:
    """A signed-in customer as the server sees it: a session cookie, a CSRF secret sent as
    both the cookie and the X-CSRFToken header (the shop's forms send the same), what it
    may order and the orders in trade it will confirm."""

    session_key: str
    profile_id: int
    agreement_id: int
    service_ids: list[int]
    to_confirm: list[str] = field(default_factory=list)  # order numbers in 交易中
    csrf: str = field(default_factory=lambda: secrets.token_hex(16))  # 32 characters

    def headers(self, **extra) -> dict:
        return {
            "Cookie": f"sessionid={self.session_key}; csrftoken={self.csrf}",
            "X-CSRFToken": self.csrf,
            **extra,
        }


class Traffic:
    """Client threads sending mixed requests until stopped, or until each has sent
    `per_client` requests (a cap, so that a test that forgets to stop cannot run
    forever). Each thread cycles browse, browse, checkout, browse, confirm (while its
    shopper has orders left to confirm). A fault test stops the stream itself, once it
    has seen the answers it needs after the fault (`run_until`): a count alone would be
    spent in a moment on fast error answers, before the service comes back."""

    BROWSE = ("/", "/services/", "/services/{service}/")
    PACE = 0.05  # seconds between a client's requests: leaves the 2 cores to the server and worker

    def __init__(self, port: int, shoppers: list[Shopper], *, per_client: int = 2000):
        self.port, self.shoppers, self.per_client = port, shoppers, per_client
        self.outcomes: list[Outcome] = []
        self.tokens: dict[str, Shopper] = {}  # every checkout token sent, with its shopper
        self._owners: dict[str, Shopper] = {}  # order number → the shopper confirming it
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- the requests -----------------------------------------------------------------
    def _send(self, kind, shopper, method, path, key="", data=None) -> Outcome:
        headers = shopper.headers()
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.monotonic()
        try:
            status, response_headers, _ = request(self.port, method, path, headers=headers, body=body)
            outcome = Outcome(kind, path, key, status, "", started, time.monotonic() - started, response_headers.get("Location", ""))
        except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out, cut short: no answer
            outcome = Outcome(kind, path, key, None, repr(error), started, time.monotonic() - started)
        with self._lock:
            self.outcomes.append(outcome)
        return outcome

    def browse(self, shopper, step) -> Outcome:
        path = self.BROWSE[step % len(self.BROWSE)].format(service=shopper.service_ids[step % len(shopper.service_ids)])
        return self._send("browse", shopper, "GET", path)

    def checkout(self, shopper, step, token=None) -> Outcome:
        service = shopper.service_ids[step % len(shopper.service_ids)]
        token = token or str(uuid.uuid4())
        with self._lock:
            self.tokens[token] = shopper
        return self._send("checkout", shopper, "POST", f"/checkout/{service}/", token, checkout_form(shopper, service, token))

    def confirm(self, shopper, number) -> Outcome:
        self._owners.setdefault(number, shopper)
        return self._send("confirm", shopper, "POST", f"/account/orders/{number}/confirm/", number, {})

    # --- the stream -------------------------------------------------------------------
    def _client(self, shopper: Shopper):
        try:
            self._stream(shopper)
        except Exception as error:  # a bug here, not the shop's answer: recorded, so the test fails on it
            with self._lock:
                self.outcomes.append(Outcome("client", "", "", None, repr(error), time.monotonic(), 0.0))
            raise

    def _stream(self, shopper: Shopper):
        for step in range(self.per_client):
            if self._stop.is_set():
                return
            move = step % 5
            if move == 2:
                self.checkout(shopper, step)
            elif move == 4:
                with self._lock:
                    number = shopper.to_confirm.pop() if shopper.to_confirm else None
                if number:
                    self.confirm(shopper, number)
                else:
                    self.browse(shopper, step)
            else:
                self.browse(shopper, step)
            time.sleep(self.PACE)

    def start(self) -> Traffic:
        self._threads = [threading.Thread(target=self._client, args=(shopper,), daemon=True) for shopper in self.shoppers]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, *, timeout: float = REQUEST_TIMEOUT + 5) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout)

    def wait(self, *, timeout: float) -> None:
        """Until every client sent its requests (or `timeout`), then stop."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.stop()

    def run_until(self, predicate, *, timeout: float) -> bool:
        """Let the stream run until predicate(self) is true (checked every 0.1 s) or
        `timeout` seconds passed, then stop it. Whether the predicate came true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                done = predicate(self)
            if done:
                break
            time.sleep(0.1)
        else:
            with self._lock:
                done = predicate(self)
        self.stop()
        return done

    def since(self, start: float, kind: str | None = None) -> list[Outcome]:
        """The requests sent at or after `start` (time.monotonic()), of `kind` if given."""
        return [o for o in list(self.outcomes) if o.started >= start and (kind is None or o.kind == kind)]

    # --- what happened -----------------------------------------------------------------
    def of(self, kind) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.kind == kind]

    def succeeded(self, outcome: Outcome) -> bool:
        """The answer a working shop gives: a page, or the redirect after a POST that
        did what it was asked (a checkout lands on My Orders, a confirmation on its order)."""
        if outcome.kind == "browse":
            return outcome.status == 200
        if outcome.kind == "checkout":
            return outcome.status == 302 and "/account/orders/" in outcome.location
        return outcome.status == 302 and outcome.location.endswith(f"/account/orders/{outcome.key}/")

    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not self.succeeded(outcome)]

    def keys(self, kind, *, succeeded: bool) -> set[str]:
        return {outcome.key for outcome in self.of(kind) if self.succeeded(outcome) == succeeded}

    def retry_failed(self, *, attempts: int = 3) -> None:
        """What a customer does after an error page: submit again. The same checkout
        token (a repeat returns the order the first one made, never a second) and the
        same confirmation (a repeat is a no-op)."""
        for _attempt in range(attempts):
            done_checkouts, done_confirms = self.keys("checkout", succeeded=True), self.keys("confirm", succeeded=True)
            pending_checkouts = sorted(self.keys("checkout", succeeded=False) - done_checkouts)
            pending_confirms = sorted(self.keys("confirm", succeeded=False) - done_confirms)
            if not pending_checkouts and not pending_confirms:
                return
            for step, token in enumerate(pending_checkouts):
                self.checkout(self.tokens[token], step, token=token)
            for number in pending_confirms:
                self.confirm(self._owners[number], number)
            time.sleep(1)

    def assign(self, numbers_by_shopper: dict[int, list[str]]) -> None:
        """Give each shopper (by index) its orders in trade to confirm during the stream."""
        for index, numbers in numbers_by_shopper.items():
            self.shoppers[index].to_confirm = list(numbers)
            self._owners.update(dict.fromkeys(numbers, self.shoppers[index]))

    def summary(self) -> str:
        """Counts per kind and status, and the first failures, for an assert message."""
        counts: dict[tuple[str, int | None], int] = {}
        for outcome in self.outcomes:
            counts[(outcome.kind, outcome.status)] = counts.get((outcome.kind, outcome.status), 0) + 1
        lines = [f"{kind} {status}: {count}" for (kind, status), count in sorted(counts.items(), key=str)]
        lines += [f"  {outcome}" for outcome in itertools.islice(self.failures(), 10)]
        lines += ["slowest:"] + [f"  {o}" for o in sorted(self.outcomes, key=lambda o: -o.elapsed)[:3]]
        return "\n".join(lines)


def checkout_form(shopper: Shopper, service_id: int, token: str) -> dict:
    """A complete 店铺订购结算 POST for one service, with the shopper's saved invoice profile."""
    from orders.tests.factories import DETAILS

    return {
        "csrfmiddlewaretoken": shopper.csrf,
        "invoice_profile": str(shopper.profile_id),
        **DETAILS,
        f"quantity_{service_id}": "1",
        "agreement": str(shopper.agreement_id),
        "agreement_accepted": "on",
        "payment_method": "third_party",
        "checkout_token": token,
    }


def server_env(*, database_url: str, redis_url: str, media_root: Path, secret_key: str) -> dict:
    """The environment of the web server, the worker and manage.py commands: local
    settings with DEBUG off, the given database and Redis, documents under media_root.
    The secret key is the test process's, so the sessions it writes sign in.

    With REDIS_URL the settings are production's shared ones: the default cache is the
    fail-open Redis cache, sessions are cached_db, and the page cache is on, its
    versions in that Redis, bumped by the web processes and the worker alike (the test
    process's own LocMem cache is never consulted by the servers, so nothing it caches
    can go stale there). The page cache is set on explicitly so that it is exercised
    under the faults whatever the calling environment says."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mall.settings.local",
        "DJANGO_DEBUG": "False",
        "DJANGO_SECRET_KEY": secret_key,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(media_root),
        "EMAIL_URL": "consolemail://",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "PAGE_CACHE_SECONDS": "300",
        # A load test's client threads check out far more often than a customer: the
        # per-customer limit (30 per 10 minutes) is there to stop abuse, not this
        # traffic, and its 429s would hide what the faults do.
        "RATELIMIT_CHECKOUT": "10000/m",
    }
    env.pop("CELERY_BROKER_URL", None)
    return env


# Run by `manage.py shell -c` against the server's database: every order with what the
# fault tests assert on, as JSON on stdout.
SHOP_STATE_SCRIPT = """
import json
from django.db.models import Count
from invoicing.models import Contract, DocumentJob, Invoice
from orders.models import Order, OrderEvent

orders = {}
for order in Order.objects.annotate(line_count=Count("lines", distinct=True)).order_by("pk"):
    orders[order.number] = {
        "token": str(order.checkout_token), "customer": order.customer.username, "status": order.status,
        "lines": order.line_count, "events": [], "invoices": [], "contracts": [], "job": None,
    }
for number, action in OrderEvent.objects.order_by("at", "pk").values_list("order__number", "action"):
    orders[number]["events"].append(action)
for number, sheet in Invoice.objects.values_list("order__number", "sheet"):
    orders[number]["invoices"].append(sheet)
for number, pdf in Contract.objects.values_list("order__number", "pdf"):
    orders[number]["contracts"].append(pdf)
for number, status, attempts in DocumentJob.objects.values_list("order__number", "status", "attempts"):
    orders[number]["job"] = [status, attempts]
print(json.dumps(orders))
"""


def shop_state(env: dict) -> dict:
    """{order number: {token, customer, status, lines, events, invoices (sheet names),
    contracts (PDF names), job: [status, attempts] or None}} read by another process
    from the server's database."""
    result = manage("shell", "-c", SHOP_STATE_SCRIPT, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"reading the shop's state failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def jobs_not_done(database: str) -> int:
    """Document jobs not done yet, in the PostgreSQL database at URL `database`."""
    import psycopg2

    connection = psycopg2.connect(database, connect_timeout=2)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM invoicing_documentjob WHERE status <> 'done'")
            return cursor.fetchone()[0]
    finally:
        connection.close()
