"""The shop under scan: its environment (production settings on plain http), a fresh
database, manage.py, gunicorn on a free port of 127.0.0.1 (its own process group, always
stopped), one request, and the demo customer signing in through the login form."""

from __future__ import annotations

import http.client
import http.cookies
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

from .config import BASE_DIR, CUSTOMER, GUNICORN, HOST, PYTHON, ScanError


def shop_environment(scan_dir: Path, database_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="mall.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="False",
        DJANGO_ALLOWED_HOSTS=HOST,
        LOCAL_PLAIN_HTTP="1",
        DATABASE_URL=database_url or f"sqlite:///{scan_dir / 'db.sqlite3'}",
        REDIS_URL="",  # tasks in-process, per-process cache, no page cache
        STATIC_ROOT=str(scan_dir / "static"),
        MEDIA_ROOT=str(scan_dir / "media"),
        EMAIL_URL=f"filemail:///{scan_dir / 'mail'}",
        PYTHONUNBUFFERED="1",
        **{f"RATELIMIT_{name}": "1000000/m" for name in ("SIGN_IN", "REGISTER", "CHECKOUT", "UPLOAD")},
    )
    return env


def fresh_database(scan_dir: Path, database_url: str | None) -> None:
    if database_url is None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (scan_dir / f"db.sqlite3{suffix}").unlink(missing_ok=True)
        return
    import environ  # the venv's: parses the URL as the settings will
    import psycopg2
    from psycopg2 import sql

    db = environ.Env.db_url_config(database_url)
    if "postgresql" not in db["ENGINE"] or "scan" not in db["NAME"]:
        raise ScanError(
            f"SCAN_DATABASE_URL must name a PostgreSQL database with 'scan' in its name (it is dropped), not {db['NAME']!r}"
        )
    connection = psycopg2.connect(
        dbname="postgres", user=db.get("USER") or None, password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None, port=db.get("PORT") or None, connect_timeout=5,
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db["NAME"])))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
    finally:
        connection.close()


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([str(PYTHON), "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-3000:]
        raise ScanError(f"`manage.py {' '.join(args)}` failed ({result.returncode}):\n{output}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    command = [
        str(GUNICORN), "mall.wsgi:application", "--bind", f"{HOST}:{port}", "--workers", "2",
        "--timeout", "30", "--no-control-socket",  # gunicorn 27 would open a socket under ~/.gunicorn/
    ]
    with open(log_path, "ab") as log_file:
        server = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ScanError(f"gunicorn exited with {server.returncode}; see {log_path}")
        try:
            if request(port, "GET", "/healthz")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    stop(server)
    raise ScanError(f"gunicorn did not answer /healthz within 60 s; see {log_path}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL whatever is left after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    process.wait()


def request(port: int, method: str, path: str, *, cookies: dict | None = None, form: dict | None = None):
    """One request, redirects not followed: (status, headers, body, cookies set)."""
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())} if cookies else {}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        jar = http.cookies.SimpleCookie()
        for header in response.msg.get_all("Set-Cookie") or []:
            jar.load(header)
        body = response.read().decode(errors="replace")
        return response.status, response.msg, body, {name: morsel.value for name, morsel in jar.items()}
    finally:
        connection.close()


def sign_in(port: int) -> dict[str, str]:
    """The demo customer through the login form, as a browser would: its session and CSRF cookies."""
    status, _, page, cookies = request(port, "GET", "/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or not token or "csrftoken" not in cookies:
        raise ScanError(f"the login page answered {status} without a CSRF token and cookie")
    username, password = CUSTOMER
    form = {"csrfmiddlewaretoken": token.group(1), "username": username, "password": password, "next": "/account/orders/"}
    status, headers, _, signed_in = request(port, "POST", "/accounts/login/", cookies=cookies, form=form)
    cookies.update(signed_in)
    if status != 302 or "sessionid" not in signed_in:
        location = headers.get("Location")
        raise ScanError(f"signing in as {username} answered {status} ({location}), not a redirect with a session")
    assert_signed_in(port, cookies, "after signing in")
    return cookies


def assert_signed_in(port: int, cookies: dict[str, str], when: str) -> None:
    status = request(port, "GET", "/account/orders/", cookies=cookies)[0]
    if status != 200:
        raise ScanError(f"My Orders answered {status} {when}: the customer's session is not signed in")
