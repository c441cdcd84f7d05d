"""The isolated environment under var/bench/: the process environment of every command,
a fresh database, manage(), and the data the load needs (the seeded ids, the bench
customer with its orders and session)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import subprocess

from .config import BASE_DIR, BENCH_DIR, PYTHON, BenchError, Config
from .shell_scripts import BENCH_CUSTOMER, ORDER_COUNT, PICK_IDS


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
        REDIS_URL="",  # empty = unset for the setup (tasks in-process); the server gets a private Redis
        # The bench customer places hundreds of orders a second, which the checkout rate
        # limit exists to refuse: raised here (every POST is still counted in Redis).
        RATELIMIT_CHECKOUT="1000000/m",
        STATIC_ROOT=str(BENCH_DIR / "static"),
        MEDIA_ROOT=str(BENCH_DIR / "media"),
        EMAIL_URL="consolemail://",
        PYTHONUNBUFFERED="1",
    )
    return env


def hold_checkout():
    """An exclusive lock on var/bench/ for the whole run (the open file; released when the
    process ends). Two benches in one checkout would share its Lua scripts, logs, static
    files, documents and SQLite database: one's wrk could run the other's checkout-POST
    script against `/`, which answers 403 to every request (docs/performance.md)."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    handle = open(BENCH_DIR / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise BenchError(f"another make bench (pid {holder}) is running in this checkout: wait for it to end") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def hold_database(config: Config):
    """For a PostgreSQL database: a session advisory lock on its name, held on a connection
    to the `postgres` database for the whole run, so that a bench in another checkout
    cannot drop the database this one is using. None for SQLite (var/bench/ is locked)."""
    if config.database_url is None:
        return None
    import environ

    db = environ.Env.db_url_config(config.database_url)
    connection = _maintenance_connection(db)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [f"make bench {db['NAME']}"])
        (locked,) = cursor.fetchone()
    if not locked:
        connection.close()
        raise BenchError(f"another make bench is using the database {db['NAME']!r}: wait for it to end")
    return connection


def _maintenance_connection(db: dict):
    import psycopg2

    return psycopg2.connect(
        dbname="postgres",
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        connect_timeout=5,
    )


def fresh_database(config: Config) -> None:
    if config.database_url is None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (BENCH_DIR / f"db.sqlite3{suffix}").unlink(missing_ok=True)
        return
    fresh_postgres_database(config.database_url)


def fresh_postgres_database(url: str) -> None:
    """Drop and recreate the database BENCH_DATABASE_URL names (its name must say 'bench')."""
    import environ  # the venv's django-environ: parses the URL as the settings will
    from psycopg2 import sql

    db = environ.Env.db_url_config(url)
    if "postgresql" not in db["ENGINE"]:
        raise BenchError(f"BENCH_DATABASE_URL must be a PostgreSQL URL, got engine {db['ENGINE']}")
    name = db["NAME"]
    if "bench" not in name:
        raise BenchError(f"BENCH_DATABASE_URL names database {name!r}: the bench drops it, so its name must contain 'bench'")
    connection = _maintenance_connection(db)
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


def bench_customer(env: dict[str, str]) -> dict:
    output = manage(env, "shell", "-c", BENCH_CUSTOMER % {"count": ORDER_COUNT})
    match = re.search(r"^BENCH_CUSTOMER (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"could not make the bench customer:\n{output}")
    customer = json.loads(match.group(1))
    if customer["orders"] != ORDER_COUNT or not customer["detail_number"]:
        raise BenchError(f"the bench customer has {customer['orders']} orders, not {ORDER_COUNT}: {customer}")
    return customer
