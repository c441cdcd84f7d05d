"""What one checkout POST costs in the web process, apart from how busy the machine is.

    python -m scripts.bench.checkout_cost [POSTS]            statements, Redis commands, CPU
    python -m scripts.bench.checkout_cost --instructions     instructions a POST (valgrind)

Run it after a `make bench` on PostgreSQL (BENCH_DATABASE_URL): that database keeps the
bench customer, its invoice profile and the agreement. Each POST is the form a browser
sends (as load.checkout_form), through Django's WSGI handler called directly, with the
production settings, the page cache and the rate limit on Redis (COST_REDIS_URL, default
redis://127.0.0.1:6379/9: a database of the machine's own Redis). Every POST places an
order in the bench database.

CPU time per POST moves with the machine's other load; on a shared machine a change of a
few percent is lost in it. `--instructions` counts instructions with valgrind's callgrind
instead, which is repeatable: the same process runs 5 and 25 POSTs after the same warm-up,
and the difference is divided by 20 (docs/performance.md shows the figures it gave).
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import time
import uuid

from .config import HOST, PYTHON, BenchError, Config
from .environment import bench_environment

WARMUP = 5
ROUND = 25
CALLGRIND_POSTS = (5, 25)


def setup_django() -> None:
    config = Config.from_env()
    if config.database_url is None:
        raise BenchError("set BENCH_DATABASE_URL to the database of a `make bench` run (it keeps the bench customer)")
    os.environ.update(bench_environment(config))
    os.environ["REDIS_URL"] = os.environ.get("COST_REDIS_URL", "redis://127.0.0.1:6379/9")
    os.environ["DJANGO_ALLOWED_HOSTS"] = HOST
    import django

    django.setup()


def checkout_poster():
    """A function that POSTs one checkout as the bench customer and checks its 302."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.core.handlers.wsgi import WSGIHandler

    from accounts.models import InvoiceProfile
    from catalog.models import Service
    from orders import selectors, services
    from orders.models import Order

    from .load import checkout_form

    user = get_user_model().objects.get(username="bench")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    last = Order.objects.filter(customer=user).latest("pk")  # the details the bench customer enters
    service = Service.objects.on_sale().order_by("pk").first()
    customer = {
        "profile": InvoiceProfile.objects.filter(user=user).values_list("pk", flat=True).first(),
        "agreement": selectors.agreement_current().pk,
        "details": {name: getattr(last, name) for name in services.DETAIL_FIELDS},
    }
    csrf = "A" * 32
    form = checkout_form({"detail": service.pk}, customer, csrf)
    path = f"/checkout/{service.pk}/"
    handler = WSGIHandler()

    def post() -> None:
        body = f"{form}&checkout_token={uuid.uuid4()}".encode()
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": HOST,
            "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": HOST, "REMOTE_ADDR": HOST,
            "wsgi.url_scheme": "http", "HTTP_X_FORWARDED_PROTO": "https", "wsgi.errors": sys.stderr,
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body), "HTTP_COOKIE": f"sessionid={session.session_key}; csrftoken={csrf}",
            "HTTP_ORIGIN": f"https://{HOST}", "HTTP_REFERER": f"https://{HOST}{path}",
        }
        status = []
        content = b"".join(handler(environ, lambda line, headers, *rest: status.append(line)))
        if not status[0].startswith("302"):
            raise BenchError(f"the checkout POST answered {status[0]}: {content[:500]!r}")

    return post


def describe(post) -> None:
    """The statements and Redis commands of one POST, and CPU ms a POST."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        post()
    print(f"{len(queries.captured_queries)} statements:")
    for query in queries.captured_queries:
        print(f"  {query['sql'][:120]}")


def cpu_per_post(post, posts: int) -> None:
    rounds = []
    for _ in range(max(posts // ROUND, 1)):
        started = time.process_time()
        for _ in range(ROUND):
            post()
        rounds.append((time.process_time() - started) / ROUND * 1000)
    print(f"CPU a POST: median {statistics.median(rounds):.2f} ms over {len(rounds)} rounds of {ROUND} (moves with the machine's load)")


def instructions() -> None:
    counts = []
    for posts in CALLGRIND_POSTS:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", str(PYTHON), "-m", __spec__.name, "--run", str(posts)]
        result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0"), check=True)
        line = next(line for line in result.stderr.splitlines() if "I   refs:" in line)
        counts.append(int(line.rsplit(maxsplit=1)[-1].replace(",", "")))
    per_post = (counts[1] - counts[0]) / (CALLGRIND_POSTS[1] - CALLGRIND_POSTS[0])
    print(f"instructions a POST: {per_post / 1e6:.1f} M (callgrind, {CALLGRIND_POSTS[1]} POSTs minus {CALLGRIND_POSTS[0]})")


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["--instructions"]:
            instructions()
            return 0
        setup_django()
        post = checkout_poster()
        for _ in range(WARMUP):
            post()
        if argv[:1] == ["--run"]:  # under valgrind: the POSTs and nothing else
            for _ in range(int(argv[1])):
                post()
            return 0
        describe(post)
        cpu_per_post(post, int(argv[0]) if argv else 100)
    except BenchError as error:
        print(f"checkout_cost: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
