"""The servers the bench starts on 127.0.0.1, each in its own session so that stopping
it means stopping its whole process group: gunicorn, a private redis-server and the
Celery worker; free ports, one plain GET, and the tail of a log for error messages."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .config import BASE_DIR, BENCH_DIR, CELERY, FORWARDED_PROTO, GUNICORN, HOST, BenchError, log

STARTUP_TIMEOUT = 60  # seconds for gunicorn to answer /healthz
STOP_TIMEOUT = 10  # seconds for gunicorn to stop on SIGTERM before SIGKILL


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


def start_worker(env: dict[str, str], concurrency: int, log_file, *, niceness: int = 0) -> subprocess.Popen:
    command = [
        *(["nice", "-n", str(niceness)] if niceness else []),
        str(CELERY), "-A", "mall", "worker",
        "--pool", "prefork",
        "--concurrency", str(concurrency),
        "-Q", WORKER_QUEUE,
        "-n", "bench@%h",
        "--loglevel", "warning",
        "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]
    log(f"starting {' '.join(command)}")
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
