"""Helpers shared by the test suites (not a test module itself)."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection


def wait_for(predicate, timeout, what, *, logs=None, processes=(), interval=0.1):
    """predicate()'s first truthy value within `timeout` seconds, asked every `interval`
    seconds. Otherwise the test fails, showing `logs()` (the logs of the processes it
    waits on): when the time is up, or as soon as one of `processes` (Popen) has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"a process exited ({process.returncode}) waiting for {what}\n{logs() if logs else ''}")
        time.sleep(interval)
    pytest.fail(f"no {what} within {timeout}s\n{logs() if logs else ''}")


def run_concurrently(target, count, *, timeout=120):
    """Run `target(i)` for i in range(count) in threads released together by a barrier.

    Returns each call's result, or the exception it raised, in order. Each thread closes
    its own database connection, as Django opens one per thread. Meant for the
    PostgreSQL tier (transaction=True), where row locks are real.
    """
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def worker(i):
        try:
            barrier.wait(timeout=30)
            outcomes[i] = target(i)
        except Exception as error:  # returned to the caller, who asserts on it
            outcomes[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return outcomes


# --- The redis tier: real Celery workers, real Redis servers ---------------------------
#
# Processes started here run from the project directory with the venv's executables,
# bind 127.0.0.1 only, and are stopped by the caller's fixture finalizer
# (process_stop), also when the test fails.

BASE_DIR = Path(__file__).resolve().parents[2]  # the project directory
CELERY = Path(sys.executable).with_name("celery")
LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def process_stop(process: subprocess.Popen, *, timeout: float = 10) -> None:
    """SIGTERM `process` (started with start_new_session=True: its whole process group,
    so a prefork worker's children go too), SIGKILL what is left after `timeout`."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(process, signal.SIGKILL)  # children a dead parent left behind
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        if process.poll() is None:
            process.send_signal(signum)


def parent_pid(pid: int) -> int | None:
    """The parent of process `pid` (from /proc), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # fields after "(comm)": state, ppid, ...


class RedisServer:
    """A private `redis-server` on a free port of 127.0.0.1, without persistence, that a
    test may stop and start again on the same port without touching anyone else's."""

    def __init__(self, directory: Path, *, port: int | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = self.directory / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOCALHOST}:{self.port}/0"

    def start(self, *, timeout: float = 10) -> "RedisServer":
        import redis

        command = [
            "redis-server",
            "--port", str(self.port),
            "--bind", LOCALHOST,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.directory),
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if client.ping():
                        return self
                except redis.ConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not start:\n{self.log_path.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                _signal_group(self.process, signal.SIGCONT)  # a SIGSTOPped server acts on SIGTERM only then
            process_stop(self.process)
            self.process = None


def celery_worker_start(
    *, queue: str, env: dict, log_path: Path, pool: str = "solo", concurrency: int = 1, loglevel: str = "warning"
) -> subprocess.Popen:
    """`celery -A mall worker` consuming only `queue`, in a process group of its own
    (process_stop ends it with its pool's children)."""
    command = [
        str(CELERY), "-A", "mall", "worker",
        "--pool", pool,
        "--concurrency", str(concurrency),
        "-Q", queue,
        "-n", f"{queue}@%h",
        "--loglevel", loglevel,
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
    ]
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def queue_declared(redis_url: str, queue: str) -> bool:
    """Whether `queue` is declared on that Redis (kombu keeps its binding in a key of its
    own): a worker starting up declares it. So does any process that publishes to it, so
    after a Redis restart use worker_answers to know the worker is back."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.exists(f"_kombu.binding.{queue}"))
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def worker_answers(redis_url: str, queue: str) -> bool:
    """Whether the worker celery_worker_start named after `queue` answers a control ping
    on that Redis: its consumer is connected. (queue_declared is not enough after a Redis
    restart: a web process that publishes declares the queue too.)"""
    from celery import Celery

    app = Celery(broker=redis_url, set_as_current=False)
    app.conf.broker_transport_options = {"socket_timeout": 1, "socket_connect_timeout": 1, "max_retries": 0}
    try:
        replies = app.control.ping(destination=[f"{queue}@{socket.gethostname()}"], timeout=1.0)
    except Exception:  # Redis not answering yet: not connected
        return False
    finally:
        app.close()
    return bool(replies)


def redis_queue_delete(redis_url: str, queue: str) -> None:
    """Drop `queue`'s messages and bindings from a shared Redis."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.delete(
            queue,
            f"_kombu.binding.{queue}",
            f"_kombu.binding_permanent.{queue}",
            *(f"{queue}\x06\x16{priority}" for priority in range(10)),
        )
    finally:
        client.close()


def database_url(database: dict) -> str:
    """A DATABASE_URL for another process, naming the same PostgreSQL database as
    `database` (settings.DATABASES entry; the test database once pytest-django made it)."""
    if "postgresql" not in database["ENGINE"]:
        raise ValueError(f"not a PostgreSQL database: {database['ENGINE']}")
    user = quote(database.get("USER") or "", safe="")
    password = quote(database.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = database.get("HOST") or LOCALHOST
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(database['NAME'], safe='')}"


def broker_pools_detach(app):
    """Take the app's cached connection and producer pools away, so the next publish
    builds pools for the broker configured then. Returns them for broker_pools_restore."""
    detached = app._pool, app.amqp._producer_pool
    app._pool = app.amqp._producer_pool = None
    return detached


def broker_pools_restore(app, detached):
    """Close the pools built since broker_pools_detach and drop them from kombu's
    registry, which would hand them out again, closed; then put the old ones back."""
    from kombu import pools as kombu_pools

    built = ((kombu_pools.producers, app.amqp._producer_pool), (kombu_pools.connections, app._pool))
    for group, pool in built:
        if pool is None:
            continue
        for hashed_key in [key for key, value in group.items() if value is pool]:
            dict.__delitem__(group, hashed_key)
        pool.force_close_all()
    app._pool, app.amqp._producer_pool = detached


@contextmanager
def celery_publishing_to(app, broker_url: str, queue: str):
    """Inside, this process's Celery `app` publishes tasks to `queue` on `broker_url`
    instead of running them in-process (mall.settings.test is eager); all is put back
    after, including the pools and the queue routing created on first use."""
    saved_conf = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "task_default_queue")}
    try:
        app.conf.update(task_always_eager=False, broker_url=broker_url, task_default_queue=queue)
        detached = broker_pools_detach(app)
        try:
            yield app
        finally:
            broker_pools_restore(app, detached)
            app.amqp.queues.pop(queue, None)  # routing created it on first use
            if getattr(app.amqp.__dict__.get("default_queue"), "name", None) == queue:
                del app.amqp.__dict__["default_queue"]
    finally:
        app.conf.update(saved_conf)
