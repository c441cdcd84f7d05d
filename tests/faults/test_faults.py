"""Faults under traffic: a real gunicorn, a real Celery worker and client threads sending
browse pages, checkouts and 确认收货 while Redis is stopped and started again, a worker's
pool child is SIGKILLed in the middle of a PDF, or PostgreSQL restarts. Afterwards
`manage.py reconcile --json --files` (as an operator runs it, in another process) finds
nothing, and the shop's state read back from the database says:

- no order lost: the orders of the checkout tokens sent are exactly those whose
  checkout answered success (a failed checkout, submitted again with its token as a
  customer would, made one order, not two);
- none half-written: every order has its lines and its events (reconcile checks the
  totals and the status history);
- every confirmed order has exactly one invoice and one contract, each with its file.

Everything runs on loopback: a private redis-server and, for the PostgreSQL restart, a
private PostgreSQL cluster on free ports (the shared servers are never stopped). The
servers run with the shared cache on that Redis (sessions, rate-limit counters and the
page cache's versions, as in production), so the page cache is under the faults too.
The stream runs until the test has seen what it needs after the fault (answers again,
the killed task redone), each wait bounded; each scenario takes ~20-30 s.
"""

import os
import re
import signal
import socket
import time

import pytest
from django.conf import settings

from tests.support.helpers import (
    RedisServer,
    celery_worker_start,
    database_url,
    parent_pid,
    process_stop,
    queue_declared,
    wait_for,
    worker_answers,
)
from tests.support.traffic import (
    Traffic,
    jobs_not_done,
    manage,
    reconcile_json,
    server_env,
    shop_state,
    web_server_start,
)

from .conftest import make_shoppers

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

QUEUE = "celery"  # the private Redis serves this test only: the default queue is ours
DOCUMENTS_SECONDS = 60  # every confirmed order's documents, after the traffic
LONG_ORDER_LINES = 120  # a multi-page contract: slow enough to kill its worker mid-PDF, also when CI starves the test
OUTAGE_SECONDS = 4  # how long Redis stays down
OUTAGE_REQUEST_SECONDS = 3  # the longest a request may take while Redis is down
# Log lines shown when a scenario fails, wherever they are in the logs.
NOTABLE = re.compile(r"broker|Broker|received|succeeded|retry|Retry|ERROR|documents|Connected|consumer:")


class Shop:
    """The processes of one scenario on its private redis-server: worker and gunicorn, both
    stopped at the end."""

    def __init__(self, tmp_path, *, redis: RedisServer, database: str, pool="solo"):
        self.tmp_path, self.database, self.redis = tmp_path, database, redis
        self.media = tmp_path / "media"
        (self.media / "documents").mkdir(parents=True, exist_ok=True)
        self.env = server_env(
            database_url=database, redis_url=self.redis.url, media_root=self.media, secret_key=settings.SECRET_KEY
        )
        self.worker_log = tmp_path / "worker.log"
        self.worker = celery_worker_start(
            queue=QUEUE, env=self.env, log_path=self.worker_log, pool=pool, concurrency=1, loglevel="info"
        )
        self.server_log = tmp_path / "gunicorn.log"
        self.server, self.port = web_server_start(env=self.env, log_path=self.server_log)
        self.wait_worker()

    def wait_worker(self):
        wait_for(
            lambda: queue_declared(self.redis.url, QUEUE) and worker_answers(self.redis.url, QUEUE),
            30, "the worker connected to Redis (its queue declared, a ping answered)", logs=self.logs,
        )

    def logs(self) -> str:
        """Each log's lines about the broker, tasks and documents, then its tail."""
        parts = []
        for path in (self.worker_log, self.server_log):
            if path.exists():
                text = path.read_text(errors="replace")
                notable = [line for line in text.splitlines() if NOTABLE.search(line)][-60:]
                parts.append(f"--- {path.name}: lines about the broker, tasks, documents\n" + "\n".join(notable))
                parts.append(f"--- {path.name}: its end\n{text[-3000:]}")
        return "\n".join(parts)

    def stop(self):
        for process in (self.server, self.worker):
            process_stop(process)

    def sweep_and_wait(self):
        """The sweeper as beat runs it, without waiting its 10 minutes: every job not
        done is sent again (documents_generate makes each document once), then wait."""
        result = manage("documents_sweep", env={**self.env, "DOCUMENTS_SWEEP_AFTER_MINUTES": "0"})
        assert result.returncode == 0, result.stderr
        wait_for(lambda: jobs_not_done(self.database) == 0, DOCUMENTS_SECONDS, "every document job done", logs=self.logs, interval=0.3)

    def stored_files(self) -> list[str]:
        documents = self.media / "documents"
        return sorted(str(path.relative_to(documents)) for path in documents.rglob("*") if path.is_file())


@pytest.fixture
def shop_factory(tmp_path, transactional_db, private_redis):
    shops = []

    def start(**kwargs):
        kwargs.setdefault("database", database_url(settings.DATABASES["default"]))
        shop = Shop(tmp_path, redis=private_redis, **kwargs)
        shops.append(shop)
        return shop

    yield start
    for shop in shops:
        shop.stop()


def assert_consistent(shop: Shop, traffic: Traffic, *, confirmed: set[str]):
    """The invariants of the module docstring, on the shop's database and files."""
    state = shop_state(shop.env)
    by_token = {order["token"]: number for number, order in state.items()}
    sent = set(traffic.tokens)
    succeeded = traffic.keys("checkout", succeeded=True)
    assert succeeded == sent, f"checkouts that never succeeded, even submitted again:\n{traffic.summary()}"
    made = {token: number for token, number in by_token.items() if token in sent}
    assert set(made) == succeeded, "an order lost, or one made by a checkout that answered an error"
    for number in made.values():
        order = state[number]
        assert order["lines"] == 1 and order["events"] == ["submit"], (number, order)
        assert order["status"] == "awaiting_payment", (number, order)
    assert traffic.keys("confirm", succeeded=True) >= confirmed, traffic.summary()
    files = shop.stored_files()
    for number in confirmed:
        order = state[number]
        assert order["status"] == "success" and order["events"].count("confirm_receipt") == 1, (number, order)
        assert order["job"][0] == "done", (number, order)
        assert len(order["invoices"]) == 1 and len(order["contracts"]) == 1, (number, order)
        assert sorted(order["invoices"] + order["contracts"]) == [name for name in files if number in name], number
    assert len(files) == 2 * sum(1 for order in state.values() if order["status"] == "success")

    report = reconcile_json(shop.env)
    assert (report["exit"], report["findings"]) == (0, []), report
    assert report["documents_expected"] == 0, report
    assert report["orders"] == len(state) and report["confirmed"] == len(
        [order for order in state.values() if order["status"] == "success"]
    )
    assert report["files_checked"] == len(files)
    return state


def started_within(traffic: Traffic, start: float, end: float, kind=None):
    return [o for o in traffic.outcomes if start <= o.started <= end and (kind is None or o.kind == kind)]


def test_redis_stopped_and_started_again_during_traffic(shop_factory):
    shoppers, to_confirm = make_shoppers(3, orders_each=4)
    shop = shop_factory()
    traffic = Traffic(shop.port, shoppers)
    in_outage, after_outage = to_confirm[1].pop(), to_confirm[2].pop()
    traffic.assign(to_confirm)

    traffic.start()
    wait_for(lambda: len(traffic.since(0, "confirm")) >= 2, 20, "confirmations before the outage", logs=shop.logs)
    shop.redis.stop()
    down = time.monotonic()
    # Beside the stream, for certain: a checkout and a confirmation while Redis is down.
    traffic.checkout(shoppers[1], 1)
    traffic.confirm(shoppers[1], in_outage)
    time.sleep(max(0.0, down + OUTAGE_SECONDS - time.monotonic()))
    shop.redis.start()
    up = time.monotonic()
    # The stream goes on until pages and checkouts were answered again after the restart.
    assert traffic.run_until(lambda t: answered_after(t, up, "browse", "checkout"), timeout=30), (
        f"{traffic.summary()}\n{shop.logs()}"
    )

    # Pages, checkouts and confirmations kept being answered, while Redis was down too,
    # and quickly: a request pays at most the fail-fast of the cache and of the broker.
    assert not traffic.failures(), f"{traffic.summary()}\n{shop.logs()}"
    during = started_within(traffic, down, up)
    assert {"browse", "checkout", "confirm"} <= {o.kind for o in during}, traffic.summary()
    slowest = max(during, key=lambda o: o.elapsed)
    assert slowest.elapsed < OUTAGE_REQUEST_SECONDS, f"a request hung on the stopped Redis: {slowest}"

    shop.wait_worker()  # Redis came back empty: the worker reconnected and answers a ping
    # A confirmation after the outage goes through the broker to the worker again.
    assert traffic.succeeded(traffic.confirm(shoppers[2], after_outage))
    wait_for(
        lambda: job_row(shop, after_outage)[0] == "done", DOCUMENTS_SECONDS, "the documents after the outage",
        logs=lambda: f"job (status, attempts, worker): {job_row(shop, after_outage)}\n{shop.logs()}",
    )
    status, attempts, worker = job_row(shop, after_outage)
    assert (attempts, worker) == (1, f"{socket.gethostname()}:{shop.worker.pid}"), "not made by the worker (solo pool)"
    shop.sweep_and_wait()
    assert_consistent(shop, traffic, confirmed=traffic.keys("confirm", succeeded=True))
    print(f"\nRedis outage: {len(during)} requests, slowest {slowest.elapsed:.2f}s ({slowest.kind} {slowest.path})")


def answered_after(traffic: Traffic, start: float, *kinds: str, status: int | None = None) -> bool:
    """Whether a request of each kind sent after `start` was answered as a working shop
    answers (or, given `status`, with that status)."""
    answered = {o.kind for o in traffic.since(start) if (o.status == status if status else traffic.succeeded(o))}
    return set(kinds) <= answered


def test_a_worker_killed_mid_pdf_during_traffic_makes_every_document_once(shop_factory):
    shoppers, to_confirm = make_shoppers(3, orders_each=4, long_order_lines=LONG_ORDER_LINES)
    long_order, after_kill = to_confirm[0].pop(0), to_confirm[1].pop()
    shop = shop_factory(pool="prefork")
    traffic = Traffic(shop.port, shoppers)
    traffic.assign(to_confirm)

    assert traffic.succeeded(traffic.confirm(shoppers[0], long_order))
    traffic.start()
    # The worst moment: the invoice sheet of the long order is on disk (its transaction
    # not committed), the contract still rendering.
    wait_for(
        lambda: [name for name in shop.stored_files() if long_order in name and name.startswith("invoices/")],
        DOCUMENTS_SECONDS, "the long order's invoice sheet", logs=shop.logs, interval=0.01,
    )
    job = running_job(shop, long_order)
    child = int(job[1].rpartition(":")[2])
    assert job[1].rpartition(":")[0] == socket.gethostname()
    assert parent_pid(child) == shop.worker.pid, f"{child} is not a pool child of the worker started here"
    os.kill(child, signal.SIGKILL)
    killed_at = time.monotonic()
    assert job_row(shop, long_order)[:2] == ("running", 1), "the task finished before the kill: make the order longer"
    # Beside the stream, for certain: a confirmation after the kill.
    assert traffic.succeeded(traffic.confirm(shoppers[1], after_kill)), traffic.summary()
    # The redelivered task and the one sent after the kill are done by the new pool child
    # while the stream goes on.
    assert traffic.run_until(
        lambda t: answered_after(t, killed_at, "browse", "checkout") and job_row(shop, long_order)[0] == "done",
        timeout=DOCUMENTS_SECONDS,
    ), f"{traffic.summary()}\n{job_row(shop, long_order)}\n{shop.logs()}"

    assert not traffic.failures(), f"{traffic.summary()}\n{shop.logs()}"
    shop.sweep_and_wait()
    state = assert_consistent(shop, traffic, confirmed=traffic.keys("confirm", succeeded=True))
    assert state[long_order]["job"] == ["done", 2], "the killed task was not delivered again"
    assert state[after_kill]["job"] == ["done", 1], state[after_kill]
    log = shop.worker_log.read_text(errors="replace")
    assert "WorkerLostError" in log or "exited prematurely" in log, log


def job_row(shop, number) -> tuple:
    import psycopg2

    connection = psycopg2.connect(shop.database, connect_timeout=2)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT j.status, j.attempts, j.worker FROM invoicing_documentjob j "
                "JOIN orders_order o ON o.id = j.order_id WHERE o.number = %s",
                [number],
            )
            return cursor.fetchone()
    finally:
        connection.close()


def running_job(shop, number):
    row = job_row(shop, number)
    assert row and row[0] == "running" and row[2], row
    return row[0], row[2]


def test_postgresql_restarted_during_traffic(private_postgres, shop_factory):
    shoppers, to_confirm = make_shoppers(3, orders_each=4)
    shop = shop_factory(database=private_postgres.copy_of(settings.DATABASES["default"]))
    traffic = Traffic(shop.port, shoppers)
    in_outage, after_outage = to_confirm[1].pop(), to_confirm[2].pop()
    traffic.assign(to_confirm)

    traffic.start()
    wait_for(lambda: len(traffic.since(0, "confirm")) >= 2, 20, "confirmations before the outage", logs=shop.logs)
    private_postgres.stop()
    down = time.monotonic()
    # Beside the stream, for certain: a checkout and a confirmation while PostgreSQL is down.
    outage_posts = [traffic.checkout(shoppers[1], 1), traffic.confirm(shoppers[1], in_outage)]
    wait_for(lambda: answered_after(traffic, down, "browse", "checkout", "confirm", status=503), 20, "503s", logs=shop.logs)
    private_postgres.start_again()
    up = time.monotonic()
    # The stream goes on until pages and checkouts were answered again after the restart.
    assert traffic.run_until(lambda t: answered_after(t, up + 1, "browse", "checkout"), timeout=30), (
        f"{traffic.summary()}\n{shop.logs()}"
    )

    failed = traffic.failures()
    # Only while it was down, and cleanly: a 503 asking to retry, never a 500.
    assert all(o.status == 503 and down - 1 <= o.started <= up for o in failed), f"{traffic.summary()}\n{shop.logs()}"
    assert [o.status for o in outage_posts] == [503, 503], outage_posts
    # The same server answers again once PostgreSQL is back (CONN_HEALTH_CHECKS).
    after = started_within(traffic, up + 1, time.monotonic())
    assert after and all(traffic.succeeded(o) for o in after), traffic.summary()
    assert shop.server.poll() is None and shop.worker.poll() is None
    # A confirmation after the restart goes through to the worker, whose connection to
    # the database was cut too.
    assert traffic.succeeded(traffic.confirm(shoppers[2], after_outage))
    wait_for(lambda: job_row(shop, after_outage)[0] == "done", DOCUMENTS_SECONDS, "the documents after the restart", logs=shop.logs)

    traffic.retry_failed()  # the customers who met a 503 submit again, with the same tokens
    assert not traffic.keys("checkout", succeeded=False) - traffic.keys("checkout", succeeded=True)
    assert in_outage in traffic.keys("confirm", succeeded=True)
    shop.sweep_and_wait()
    assert_consistent(shop, traffic, confirmed=traffic.keys("confirm", succeeded=True))
    print(f"\nPostgreSQL restart: {len(failed)} requests answered 503, {len(after)} answered after it")
