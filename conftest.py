"""Test tiers. Each tier runs when its service is reachable and is skipped otherwise;
with REQUIRE_SERVICES=1 (CI) a tier that cannot run fails its tests instead."""

import os
from functools import cache
from pathlib import Path

import pytest

# Fixtures every app's tests may use (flaky_backend; finance, reviewer and their clients, in_english).
pytest_plugins = ("tests.support.mail", "tests.support.staff")

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

_tier_outcomes: dict[str, str] = {}


@cache
def _tier_problem(tier: str) -> str | None:
    """Why `tier` cannot run here, or None when it can."""
    if tier == "postgres":
        from django.conf import settings

        engine = settings.DATABASES["default"]["ENGINE"]
        return None if "postgresql" in engine else "DATABASE_URL is not a PostgreSQL database"
    if tier == "redis":
        url = os.environ.get("REDIS_URL")
        if not url:
            return "REDIS_URL is not set"
        try:
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
        except Exception as error:  # any failure to reach it means the tier cannot run
            return f"Redis at {url} is unreachable ({error})"
        return None
    if tier == "e2e":
        return None if Path(CHROMIUM).exists() else f"no Chromium at {CHROMIUM}"
    if tier == "scan":
        import shutil

        missing = [program for program in ("wapiti", "sqlmap") if shutil.which(program) is None]
        return f"{' and '.join(missing)} not installed (scripts/install-system-packages.sh scan)" if missing else None
    raise ValueError(tier)


TIERS = ("postgres", "redis", "e2e", "scan")


@pytest.fixture(autouse=True)
def _broker_breaker_closed():
    """A publish that failed in one test does not pause the next test's publishes."""
    from mall.celery import breaker

    breaker.reset()
    yield
    breaker.reset()


@pytest.fixture(autouse=True)
def _celery_results_may_be_awaited():
    """Celery keeps "a task runs here: never wait for a result" in one flag per process,
    set and restored around each eager task. Threads running eager tasks at once (the
    concurrency tests: each request's emails) can restore it in the wrong order and leave
    it set, and a later test's result.get() would refuse to run. Each test starts with it
    clear."""
    from celery.result import allow_join_result

    with allow_join_result():
        yield


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache, as a fresh deployment would."""
    from django.core.cache import caches

    from mall import pagecache

    for alias in caches:
        caches[alias].clear()
    pagecache.clear_local()


def pytest_runtest_setup(item):
    for tier in TIERS:
        if item.get_closest_marker(tier) is None:
            continue
        problem = _tier_problem(tier)
        if problem is None:
            _tier_outcomes.setdefault(tier, "ran")
            continue
        _cannot_run(tier, problem)


def _cannot_run(tier: str, problem: str):
    """Skip the test, or with REQUIRE_SERVICES=1 fail it; the summary shows the tier skipped."""
    _tier_outcomes[tier] = f"skipped: {problem}"
    message = f"{tier} tier cannot run: {problem}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def cannot_run():
    """cannot_run(tier, problem): for a fixture that finds, once the tier's service answered,
    that something else the test needs is missing (a server's executable)."""
    return _cannot_run


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test only, on a free port of 127.0.0.1 (RedisServer in
    tests/support/helpers.py), which the test may stop, start again, or SIGSTOP: nobody
    else uses it. Stopped at the end of the test."""
    import shutil

    from tests.support.helpers import RedisServer

    if shutil.which("redis-server") is None:
        _cannot_run("redis", "no redis-server executable for a private Redis (Debian's redis-server)")
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def pytest_terminal_summary(terminalreporter):
    lines = [f"{tier}: {_tier_outcomes.get(tier, 'no tests selected')}" for tier in TIERS]
    terminalreporter.write_sep("-", "service tiers")
    for line in lines:
        terminalreporter.write_line(line)
