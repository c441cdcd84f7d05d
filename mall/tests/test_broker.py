"""Publishing to a broker that hangs, restarts or drops the connection (mall/celery.py),
against a private redis-server that the tests stop with SIGSTOP and resume with SIGCONT.

A stopped process accepts connections (the kernel does) and never answers: each publish
costs the socket timeout of the broker settings. The tests publish to a queue of their
own that no worker consumes, and read it back from Redis: a message in the queue went
to the broker; an email in mail.outbox ran in this process.
"""

import base64
import json
import os
import signal
import socket
import struct
import threading
import time
import uuid

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.urls import reverse

from invoicing.models import DocumentJob
from mall.celery import PUBLISH_PAUSE_SECONDS, app, breaker, enqueue
from mall.tasks import email_render_send_task, email_send_task
from orders.models import Order
from orders.tests.factories import order_in
from tests.support.helpers import LOCALHOST, RedisServer, celery_publishing_to

pytestmark = pytest.mark.redis

SOCKET_TIMEOUT = settings.CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"]
MARGIN = 1.5  # seconds: a slow machine, never a second socket timeout


class Broker:
    """The private redis-server the test publishes to, and its queue."""

    def __init__(self, server: RedisServer, queue: str):
        self.server, self.queue = server, queue

    def hang(self):
        """SIGSTOP: connections are accepted, nothing is answered."""
        os.kill(self.server.process.pid, signal.SIGSTOP)

    def resume(self):
        if self.server.process is not None and self.server.process.poll() is None:
            os.kill(self.server.process.pid, signal.SIGCONT)

    def messages(self) -> list[dict]:
        """Each message in the queue as Celery wrote it (headers, body …), oldest first,
        read from Redis itself."""
        client = redis.Redis.from_url(self.server.url, socket_connect_timeout=2, socket_timeout=2)
        try:
            raw = client.lrange(self.queue, 0, -1)
        finally:
            client.close()
        return [json.loads(item) for item in reversed(raw)]  # LPUSH: the oldest is last

    def queued(self) -> list[tuple[str, list, dict]]:
        """(task name, args, kwargs) of each message in the queue."""
        messages = []
        for message in self.messages():
            args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            messages.append((message["headers"]["task"], args, kwargs))
        return messages

    def headers(self) -> list[dict]:
        return [message["headers"] for message in self.messages()]

    def subjects(self) -> list[str]:
        return [kwargs["subject"] for task, _args, kwargs in self.queued() if task == email_send_task.name]


@pytest.fixture
def broker(private_redis):
    """This process publishes to a queue of its own on the private server (SIGCONTed
    before the publishing pools are closed); the breaker starts and ends closed."""
    queue = f"test-broker-{uuid.uuid4().hex}"
    current = Broker(private_redis, queue)
    breaker.reset()
    try:
        with celery_publishing_to(app, private_redis.url, queue):
            try:
                yield current
            finally:
                current.resume()
    finally:
        breaker.reset()


def send(subject):
    """What the views do for an email: publish it, or run it here if that fails."""
    enqueue(email_send_task, subject=subject, body="body", to=["customer@example.com"])


def sent_here() -> list[str]:
    return [message.subject for message in mail.outbox]


def timed(function, *args):
    started = time.monotonic()
    function(*args)
    return time.monotonic() - started


def pause_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mall.celery" and "publishing paused" in r.getMessage()]


def test_publishes_to_a_hanging_redis_cost_one_socket_timeout_not_one_each(broker, caplog):
    """Three publishes: today's ~9 s (3 s each) became one timeout; the first one, which
    timed out, was not retried either (that would be a second timeout)."""
    send("warm")  # the process has a pooled connection to Redis, as a running shop does
    assert broker.subjects() == ["warm"]
    broker.hang()

    elapsed = timed(lambda: [send(f"during {i}") for i in range(3)])

    print(f"\n3 publishes with Redis SIGSTOPped: {elapsed:.2f}s")
    assert SOCKET_TIMEOUT - 0.5 < elapsed < SOCKET_TIMEOUT + MARGIN, elapsed
    assert sent_here() == ["during 0", "during 1", "during 2"]
    assert len(pause_warnings(caplog)) == 1, caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_confirmation_with_redis_hanging_answers_after_one_socket_timeout(broker, client, caplog):
    """确认收货 publishes the customer's email and the documents job: with Redis hanging
    the email is sent from here and the job is left for the sweeper, as with Redis down,
    and the request waits for the first publish only."""
    order = order_in(Order.Status.IN_TRADE)  # its approval email went in-process: eager outside the broker
    client.force_login(order.customer)
    mail.outbox.clear()
    send("warm")
    broker.hang()

    started = time.monotonic()
    response = client.post(reverse("orders:confirm", args=[order.number]))
    elapsed = time.monotonic() - started

    print(f"\n确认收货 (2 publishes) with Redis SIGSTOPped: {elapsed:.2f}s")
    assert response.status_code == 302
    assert elapsed < SOCKET_TIMEOUT + MARGIN, elapsed
    order.refresh_from_db()
    assert order.status == Order.Status.SUCCESS
    assert [subject for subject in sent_here() if order.number in subject], "the email did not run in-process"
    job = DocumentJob.objects.get(order=order)
    assert (job.status, job.attempts, job.enqueued_at) == (DocumentJob.Status.PENDING, 0, None), "not left for the sweeper"
    assert len(pause_warnings(caplog)) == 1, caplog.text


@pytest.mark.django_db(transaction=True)
def test_an_order_email_is_published_as_what_it_says_and_rendered_by_the_worker(broker):
    """The request that changed the order publishes the email's values, not its rendered
    templates; the task renders it from the message as the broker gives it back (JSON)."""
    order = order_in(Order.Status.AWAITING_PAYMENT)  # submitted: its email is published on commit
    [kwargs] = [kwargs for task, _args, kwargs in broker.queued() if task == email_render_send_task.name]
    assert kwargs["to"] == [order.customer.email]
    assert not mail.outbox

    email_render_send_task.apply(kwargs=kwargs)

    [email] = mail.outbox
    chinese, english = email.subject.split(" / ")
    assert order.number in chinese and "订单" in chinese
    assert english == f"Order {order.number} submitted"
    chinese, english = email.body.split("\n\n--------\n\n")
    for body in (chinese, english):
        assert order.number in body and f"¥{order.total}" in body and str(order.customer) in body
    assert "Hello" in english and "Hello" not in chinese
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html" and html.count(f"¥{order.total}") == 2


def test_a_messages_headers_show_ids_and_numbers_but_no_address_or_text(broker):
    """What workers' events and `celery inspect` show of a call (argsrepr, kwargsrepr)."""
    enqueue(email_send_task, subject="您的订单已提交", body="body", to=["customer@example.com"], cc=None)
    app.send_task("invoicing.tasks.documents_generate_task", args=[42, "secret"], kwargs={"order_id": 7})

    email, documents = broker.headers()
    assert email["kwargsrepr"] == "{'subject': '…', 'body': '…', 'to': '…', 'cc': None}"
    assert (documents["argsrepr"], documents["kwargsrepr"]) == ("(42, '…')", "{'order_id': 7}")


def test_after_sigcont_the_first_publish_that_tries_redis_goes_to_it(broker):
    send("warm")
    broker.hang()
    send("during")  # times out: in-process, and publishing pauses
    broker.resume()
    time.sleep(PUBLISH_PAUSE_SECONDS)

    send("after")

    assert sent_here() == ["during"], "the first publish after SIGCONT ran in-process"
    assert "after" in broker.subjects()


def test_after_a_restart_on_the_same_port_the_first_publish_that_tries_redis_goes_to_it(broker):
    send("warm")
    broker.server.stop()
    send("during")  # refused: in-process, and publishing pauses
    broker.server.start()  # empty: no persistence
    time.sleep(PUBLISH_PAUSE_SECONDS)

    send("after")

    assert sent_here() == ["during"], "the first publish after the restart ran in-process"
    assert broker.subjects() == ["after"]


def test_the_pause_ends_and_a_publish_tries_the_broker_again(broker, caplog):
    send("warm")
    broker.server.stop()
    send("refused")
    broker.server.start()  # back at once, but this process leaves it alone for the pause

    elapsed = timed(lambda: [send("paused 1"), send("paused 2")])

    assert elapsed < 0.5, elapsed
    assert sent_here() == ["refused", "paused 1", "paused 2"]
    assert broker.subjects() == []
    assert len(pause_warnings(caplog)) == 1, caplog.text
    time.sleep(PUBLISH_PAUSE_SECONDS)

    send("after the pause")

    assert broker.subjects() == ["after the pause"]
    assert sent_here() == ["refused", "paused 1", "paused 2"]


def test_a_task_a_worker_runs_still_publishes_while_its_process_is_paused(broker):
    """A worker's own publishes (a task's retry, a task sent on) are not refused by the
    breaker: a refused retry would lose the message."""
    from celery._state import _task_stack

    send("warm")
    broker.server.stop()
    send("refused")  # this process is now paused
    broker.server.start()
    running = email_send_task
    running.push_request(called_directly=False, is_eager=False)  # as the worker runs it
    _task_stack.push(running)
    try:
        send("from inside a task")
    finally:
        _task_stack.pop()
        running.pop_request()

    assert broker.subjects() == ["from inside a task"]
    assert sent_here() == ["refused"]


# --- A pooled connection that is dead without the client knowing ---------------------


class ForgetfulProxy:
    """A TCP forwarder to a redis-server that can forget its connections, as a broker
    host does that restarted without closing them (a container, a failover, a NAT
    timeout): the client's socket gets no FIN and looks usable, and the first bytes it
    sends are answered with a reset. New connections are forwarded as usual."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server((LOCALHOST, 0))
        self.port = self.listener.getsockname()[1]
        self.pairs = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://{LOCALHOST}:{self.port}/0"

    def _accept(self):
        while True:
            try:
                client, _address = self.listener.accept()
                upstream = socket.create_connection((LOCALHOST, self.upstream_port), timeout=5)
            except OSError:
                return  # closed
            upstream.settimeout(None)
            pair = {"client": client, "upstream": upstream, "forgotten": False}
            with self.lock:
                self.pairs.append(pair)
            threading.Thread(target=self._to_upstream, args=(pair,), daemon=True).start()
            threading.Thread(target=self._to_client, args=(pair,), daemon=True).start()

    def _to_upstream(self, pair):
        client, upstream = pair["client"], pair["upstream"]
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if data and pair["forgotten"]:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()  # linger 0: a reset, as from a host that does not know the connection
                return
            if not data:
                client.close()
                upstream.close()
                return
            try:
                upstream.sendall(data)
            except OSError:
                pass

    def _to_client(self, pair):
        client, upstream = pair["client"], pair["upstream"]
        while True:
            try:
                data = upstream.recv(65536)
            except OSError:
                data = b""
            if not data:
                if not pair["forgotten"]:
                    client.close()
                return
            try:
                client.sendall(data)
            except OSError:
                return

    def forget(self):
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            pair["forgotten"] = True
            try:
                pair["upstream"].shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            pair["upstream"].close()

    def close(self):
        self.listener.close()
        self.forget()
        with self.lock:
            for pair in self.pairs:
                pair["client"].close()


def test_a_pooled_connection_the_broker_forgot_is_replaced_and_the_publish_goes_through(private_redis, caplog):
    proxy = ForgetfulProxy(private_redis.port)
    queue = f"test-broker-{uuid.uuid4().hex}"
    current = Broker(private_redis, queue)
    breaker.reset()
    try:
        with celery_publishing_to(app, proxy.url, queue):
            send("warm")
            proxy.forget()

            send("first after")
            send("second after")
    finally:
        proxy.close()
        breaker.reset()

    assert sent_here() == [], "a publish ran in-process"
    assert current.subjects() == ["warm", "first after", "second after"]
    assert "once more on a new connection" in caplog.text
    assert pause_warnings(caplog) == []
