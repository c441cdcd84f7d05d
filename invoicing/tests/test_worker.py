"""The redis tier of the documents: a real `celery -A mall worker` process makes the
invoice and the signed contract of orders confirmed in this test process.

The worker shares this process's PostgreSQL test database (transaction=True: what the
test writes is committed, so the worker sees it) and its documents directory (a
FileSystemStorage under tmp_path; the worker gets it as MEDIA_ROOT). Each worker
consumes a queue of its own. The fault tests run against a private redis-server on a
free port of 127.0.0.1, so stopping it disturbs nobody else.

Faults covered (DESIGN.md: exactly one invoice and one contract whatever the faults):
Redis down at confirm time, and the pool child running the task killed mid-task.
"""

import hashlib
import logging
import os
import signal
import socket
import time
import uuid
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.files.storage import FileSystemStorage
from django.utils import timezone

from invoicing import services as invoicing_services
from invoicing import signing
from invoicing.models import Contract, DocumentJob, Invoice
from mall.celery import app as celery_app
from orders import services as order_services
from orders.models import Order
from orders.tests.factories import order_in
from tests.support.helpers import (
    celery_publishing_to,
    celery_worker_start,
    database_url,
    parent_pid,
    process_stop,
    queue_declared,
    redis_queue_delete,
    wait_for,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKER_START_SECONDS = 20  # the worker declares its queue on Redis
DOCUMENTS_SECONDS = 40  # one order's invoice sheet and signed contract, WeasyPrint warming up
CONFIRM_SECONDS = 10  # confirming with Redis down must not hang on the broker
LONG_ORDER_LINES = 60  # a multi-page contract: slow enough to kill its worker mid-task


class Worker:
    """A running worker: its process, queue, broker and log, for the test's asserts."""

    def __init__(self, process, queue, broker_url, log_path):
        self.process, self.queue, self.broker_url, self.log_path = process, queue, broker_url, log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait(self, predicate, timeout, what, *, interval=0.05):
        """wait_for `predicate`, failing at once with the worker's log if the worker exits."""
        return wait_for(predicate, timeout, what, logs=self.log, processes=[self.process], interval=interval)

    def wait_declared(self, timeout=WORKER_START_SECONDS):
        """Until the worker has declared its queue on the broker (it consumes then)."""
        self.wait(lambda: queue_declared(self.broker_url, self.queue), timeout, f"worker on {self.queue}")


@pytest.fixture
def documents_dir(tmp_path, settings):
    """The documents storage of both processes: MEDIA_ROOT/documents of the worker, and
    settings.STORAGES["documents"] here. (The FileFields took their storage when the
    models were imported, the in-memory one of mall.settings.test; the files the worker
    writes are read back here through `FileSystemStorage(documents_dir)`.)"""
    media = tmp_path / "media"
    directory = media / "documents"
    directory.mkdir(parents=True)
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": directory, "base_url": None},
        },
    }
    return directory


@pytest.fixture
def start_worker(transactional_db, tmp_path, documents_dir):
    """start_worker(broker_url, pool=, concurrency=) → Worker: a `celery -A mall worker`
    on the test database and documents directory, consuming a queue of its own on
    `broker_url`, which this process then publishes to. Stopped (its process group
    killed) before the test database is flushed, also when the test fails."""
    test_database = database_url(django_settings.DATABASES["default"])
    cleanup = ExitStack()  # last in, first out: stop publishing, then the worker

    def start(broker_url, *, pool="solo", concurrency=1):
        queue = f"test-invoicing-{uuid.uuid4().hex}"
        log_path = tmp_path / f"worker-{queue}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mall.settings.local",
            "DJANGO_DEBUG": "False",
            "DATABASE_URL": test_database,
            "REDIS_URL": broker_url,
            "MEDIA_ROOT": str(documents_dir.parent),
            "EMAIL_URL": "consolemail://",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("CELERY_BROKER_URL", None)
        process = celery_worker_start(queue=queue, env=env, log_path=log_path, pool=pool, concurrency=concurrency)
        if broker_url == os.environ.get("REDIS_URL"):
            cleanup.callback(redis_queue_delete, broker_url, queue)
        cleanup.callback(process_stop, process)
        cleanup.enter_context(celery_publishing_to(celery_app, broker_url, queue))
        return Worker(process, queue, broker_url, log_path)

    with cleanup:
        yield start


def confirmed(order: Order) -> Order:
    """确认收货 by the customer, as the view does: the documents job is recorded in the
    transaction and sent to the broker when it commits (transaction=True: for real)."""
    return order_services.order_confirm_receipt(order=order, actor=order.customer)


def job_done(order):
    job = DocumentJob.objects.get(order=order)
    return job if job.status == DocumentJob.Status.DONE else None


def stored_files(documents_dir: Path) -> list[str]:
    return sorted(str(path.relative_to(documents_dir)) for path in documents_dir.rglob("*") if path.is_file())


def assert_documents_once(order: Order, documents_dir: Path) -> tuple[Invoice, Contract]:
    """Exactly one invoice, one contract and one file of each for `order`, made by the
    worker and readable from the shared directory; the contract's signature validates."""
    invoices = list(Invoice.objects.filter(order=order))
    contracts = list(Contract.objects.filter(order=order))
    assert len(invoices) == 1 and len(contracts) == 1, (invoices, contracts)
    invoice, contract = invoices[0], contracts[0]
    assert invoice.status == Invoice.Status.PENDING
    files = [name for name in stored_files(documents_dir) if order.number in name]
    assert files == sorted([invoice.sheet.name, contract.pdf.name]), files
    storage = FileSystemStorage(location=documents_dir)
    with storage.open(invoice.sheet.name) as handle:
        assert handle.read(5) == b"%PDF-"
    with storage.open(contract.pdf.name) as handle:
        signed = handle.read()
    assert hashlib.sha256(signed).hexdigest() == contract.sha256
    assert signing.verify_pdf(signed).valid
    return invoice, contract


def worker_pid(job: DocumentJob) -> int:
    host, _, pid = job.worker.rpartition(":")
    assert host == socket.gethostname(), job.worker
    return int(pid)


def test_a_confirmed_order_gets_its_invoice_and_contract_from_a_worker_on_redis(start_worker, documents_dir):
    worker = start_worker(os.environ["REDIS_URL"])
    order = order_in(Order.Status.IN_TRADE)

    order = confirmed(order)

    assert order.status == Order.Status.SUCCESS
    job = DocumentJob.objects.get(order=order)
    assert job.enqueued_at is not None, "the job was not handed to the broker"
    job = worker.wait(lambda: job_done(order), DOCUMENTS_SECONDS, "documents", interval=0.2)
    assert job.attempts == 1
    assert worker_pid(job) == worker.process.pid, "made by another process than the solo worker"
    assert_documents_once(order, documents_dir)
    assert stored_files(documents_dir) == sorted(
        [Invoice.objects.get(order=order).sheet.name, Contract.objects.get(order=order).pdf.name]
    )


def test_with_redis_down_the_confirmation_succeeds_and_the_sweeper_sends_the_job_once_redis_is_back(
    private_redis, start_worker, documents_dir, caplog
):
    worker = start_worker(private_redis.url)
    worker.wait_declared()
    # The shop has been publishing: this process holds a connection to Redis.
    first = confirmed(order_in(Order.Status.IN_TRADE))
    worker.wait(lambda: job_done(first), DOCUMENTS_SECONDS, "documents of the first order", interval=0.2)
    order = order_in(Order.Status.IN_TRADE)

    private_redis.stop()
    caplog.set_level(logging.WARNING, logger="invoicing.services")
    started = time.monotonic()
    order = confirmed(order)
    elapsed = time.monotonic() - started

    assert elapsed < CONFIRM_SECONDS, f"confirming with Redis down took {elapsed:.1f}s"
    order.refresh_from_db()
    assert order.status == Order.Status.SUCCESS
    job = DocumentJob.objects.get(order=order)
    assert (job.status, job.attempts, job.enqueued_at) == (DocumentJob.Status.PENDING, 0, None)
    assert "not sent to a worker" in caplog.text
    assert not Invoice.objects.filter(order=order).exists()
    # The customer's email about it could not reach a worker either: it went from here.
    assert any(order.number in message.subject for message in mail.outbox)
    assert not Contract.objects.filter(order=order).exists()
    # Nothing runs it while Redis is down, nor does the sweeper before its time.
    assert invoicing_services.documents_sweep() == []

    private_redis.start()
    # Redis came back empty (no persistence): wait until the worker reconnected and
    # declared its queue again, or the message would have no queue to go to.
    worker.wait_declared()
    later = timezone.now() + timedelta(minutes=django_settings.DOCUMENTS_SWEEP_AFTER_MINUTES + 1)
    sent = invoicing_services.documents_sweep(now=later)

    assert sent == [order.pk]
    job = worker.wait(lambda: job_done(order), DOCUMENTS_SECONDS, "documents after the sweep", interval=0.2)
    assert job.attempts == 1
    assert_documents_once(order, documents_dir)
    assert_documents_once(first, documents_dir)
    assert len(stored_files(documents_dir)) == 4


def test_a_worker_killed_mid_task_gets_the_task_again_and_the_documents_are_made_once(
    private_redis, start_worker, documents_dir
):
    from catalog.tests.factories import ServiceFactory

    worker = start_worker(private_redis.url, pool="prefork", concurrency=1)
    order = order_in(
        Order.Status.IN_TRADE, services_and_quantities=[(ServiceFactory(), 1) for _ in range(LONG_ORDER_LINES)]
    )
    worker.wait_declared()

    confirmed(order)
    running = worker.wait(
        lambda: DocumentJob.objects.filter(order=order, status=DocumentJob.Status.RUNNING).exclude(worker="").first(),
        DOCUMENTS_SECONDS,
        "job running on the worker",
        interval=0.01,
    )
    child = worker_pid(running)
    assert child != worker.process.pid, "prefork: the task runs in a pool child"
    assert parent_pid(child) == worker.process.pid, f"{child} is not a child of the worker we started"
    # The worst moment: the invoice sheet is on disk, its transaction not committed,
    # the contract still rendering.
    worker.wait(
        lambda: [name for name in stored_files(documents_dir) if name.startswith("invoices/")],
        DOCUMENTS_SECONDS,
        "the invoice sheet of the first run",
        interval=0.01,
    )
    os.kill(child, signal.SIGKILL)

    # Killed in the middle: nothing of its transaction was committed.
    killed = DocumentJob.objects.get(order=order)
    assert killed.status == DocumentJob.Status.RUNNING and killed.attempts == 1, (
        f"the task finished before the kill ({killed.status}, {killed.attempts} attempts): make the order longer"
    )
    job = worker.wait(lambda: job_done(order), DOCUMENTS_SECONDS, "documents after the kill", interval=0.2)
    assert job.attempts == 2, "the message was not delivered again after its worker was killed"
    assert worker_pid(job) not in (child, worker.process.pid)
    assert "WorkerLostError" in worker.log() or "exited prematurely" in worker.log(), worker.log()
    assert_documents_once(order, documents_dir)
    assert stored_files(documents_dir) == sorted(
        [Invoice.objects.get(order=order).sheet.name, Contract.objects.get(order=order).pdf.name]
    )
