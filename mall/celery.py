"""Celery wiring, and publishing that survives a broker outage.

Every publish of the shop's processes (a task's apply_async or delay, the helpers below,
the documents jobs invoicing sends itself) goes through MallCelery.send_task, which adds
two things to Celery's:

- A breaker. A Redis that accepts connections and never answers (stopped with SIGSTOP,
  a network black hole) costs each publish its socket timeout (3 s, settings), and a
  request publishes two or three tasks. So after a publish fails, the process leaves the
  broker alone for PUBLISH_PAUSE_SECONDS: a publish meanwhile raises BrokerPaused at
  once, a kombu OperationalError like the failure itself, and its caller takes the same
  fallback (enqueue runs the task here; a documents job waits for the sweeper). Logged
  once per pause. Not inside a task a worker runs: there a refused publish (a retry)
  would lose the message.
- One retry on a new connection. A pooled connection can be dead without the client
  knowing (the broker's host forgot it: a container or failover restart, a NAT timeout):
  the first write is answered with a reset. A publish that failed that way is sent again
  once, on a connection of its own, before it counts as a failure. Not one that timed
  out (the broker hangs: a retry would double the wait), nor one whose connection was
  refused (nothing listens: a retry would fail the same way).
"""

import logging
import os
import threading
import time

from celery import Celery
from celery.utils import uuid
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mall.settings.local")

logger = logging.getLogger(__name__)

# Short: for this long after Redis comes back, tasks still run in-process and documents
# jobs wait for the sweeper. Long enough that a request publishing several tasks to a
# hanging Redis waits for the first one only.
PUBLISH_PAUSE_SECONDS = 1.0

# What a publish raises when the broker failed it: kombu wraps the transport's errors in
# OperationalError; socket and redis-py errors raised outside its wrapping too.
BROKER_ERRORS = (OperationalError, OSError, RedisError)


class BrokerPaused(OperationalError):
    """Not published: another publish of this process failed less than
    PUBLISH_PAUSE_SECONDS ago."""


class PublishBreaker:
    """After a failed publish, the process's publishes skip the broker for `pause` seconds.

    One per process. Its state is a deadline on the monotonic clock, read without a lock
    (a stale read costs one publish at most); the lock only makes one thread log it.
    """

    def __init__(self, pause: float):
        self.pause = pause
        self.paused_until = 0.0
        self._lock = threading.Lock()

    def paused(self) -> bool:
        return time.monotonic() < self.paused_until

    def failed(self, name: str, error: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            already = now < self.paused_until
            self.paused_until = now + self.pause
        if not already:
            logger.warning(
                "broker unreachable, %s not published (%s): publishing paused for %ss, tasks run in this "
                "process and documents jobs wait for the sweeper",
                name, error, self.pause,
            )

    def reset(self) -> None:
        self.paused_until = 0.0


breaker = PublishBreaker(PUBLISH_PAUSE_SECONDS)


def _causes(error: BaseException):
    """`error` and the exceptions it was raised from or while handling."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _new_connection_may_help(error: BaseException) -> bool:
    """Whether a new connection may succeed where `error` failed a publish (a reset, a
    broken pipe, a connection closed by the server); not after a timeout (socket.timeout
    is a TimeoutError) or a refused connection."""
    return not any(
        isinstance(cause, (TimeoutError, RedisTimeoutError, ConnectionRefusedError)) for cause in _causes(error)
    )


def _in_worker_task(app) -> bool:
    """Whether this publish comes from a task a worker is running (its own retry, or a task
    it sends on). The breaker does not apply there: a refused retry would drop the
    message, and a worker may wait for the broker where a request may not."""
    task = app.current_worker_task
    return task is not None and not task.request.is_eager


def _shown(value):
    return value if value is None or isinstance(value, (bool, int, float)) else "…"


def call_repr(args, kwargs) -> tuple[str, str]:
    """What a message's headers say of the task's arguments (argsrepr, kwargsrepr), which
    workers' events and `celery inspect` show: ids, numbers and flags as they are, anything
    else elided. Celery's own saferepr of every value costs time on every publish, and
    would carry an email's address and text into the events."""
    return repr(tuple(_shown(value) for value in args or ())), repr({key: _shown(value) for key, value in (kwargs or {}).items()})


class MallCelery(Celery):
    def send_task(self, name, args=None, kwargs=None, *positional, **options):
        """Celery's send_task behind the breaker, with one retry on a new connection
        (see the module). Task.apply_async calls it for every task sent to a worker."""
        if breaker.paused() and not _in_worker_task(self):
            raise BrokerPaused(f"{name} not published: the broker failed less than {breaker.pause}s ago")
        # The caller's own connection or producer, or options passed by position: no retry.
        own = options.get("connection") or options.get("producer") or options.get("publisher")
        may_retry = not (own or positional)
        if may_retry:
            options["task_id"] = options.get("task_id") or uuid()  # the retry sends the same message
        if "argsrepr" not in options and "kwargsrepr" not in options:
            options["argsrepr"], options["kwargsrepr"] = call_repr(args, kwargs)
        try:
            return super().send_task(name, args, kwargs, *positional, **options)
        except BROKER_ERRORS as error:
            if not (may_retry and _new_connection_may_help(error)):
                breaker.failed(name, error)
                raise
            logger.info("publishing %s failed (%s): once more on a new connection", name, error)
        try:
            with self.connection_for_write() as connection:
                return super().send_task(name, args, kwargs, connection=connection, **options)
        except BROKER_ERRORS as error:
            breaker.failed(name, error)
            raise


app = MallCelery("mall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue_on_commit(task, **kwargs) -> None:
    """Send `task` to a worker once the current transaction commits, like delay_on_commit,
    but a broker that cannot be reached (Redis down) does not turn the request that
    already committed into an error: the task then runs here, in this process, once
    (its own failure handling applies)."""
    from django.db import transaction

    transaction.on_commit(lambda: enqueue(task, **kwargs))


def enqueue(task, **kwargs) -> None:
    try:
        task.apply_async(kwargs=kwargs, retry=False)
    except BROKER_ERRORS:  # the breaker logged it, once per pause
        logger.debug("%s runs in this process: the broker is unreachable", task.name)
        task.apply(kwargs=kwargs)
    except Exception:  # not the broker (a message that cannot be serialised): run it all the same
        logger.warning("%s not published: it runs in this process", task.name, exc_info=True)
        task.apply(kwargs=kwargs)
