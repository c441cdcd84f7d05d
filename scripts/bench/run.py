"""The run, in order: preflight, the set-up, the pages under gunicorn and the mixed load,
the documents, the report; main() turns it into the exit code (0, 1 for failed
measurements or checks, 2 for a set-up failure, 130 when interrupted)."""

from __future__ import annotations

import datetime
import os
import secrets
import shutil
import signal
import time

from .config import BASE_DIR, BENCH_DIR, GUNICORN, HOST, PYTHON, BenchError, Config, log
from .documents import pdf_render, worker_run
from .environment import bench_customer, bench_environment, fresh_database, manage, pick_ids
from .load import check_200, endpoints, measure
from .mixed import mixed_failures, mixed_run
from .report import documents_failed, mean_ms, report
from .servers import free_port, start_gunicorn, start_redis, stop_gunicorn, stop_process_group, tail, wait_until_healthy
from .shell_scripts import ORDER_COUNT


def preflight() -> None:
    for path in (PYTHON, GUNICORN):
        if not path.exists():
            raise BenchError(f"{path} is missing: run `make install-dev` (or `make bench`) first")
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: `scripts/install-system-packages.sh bench` installs it")
    if not (BASE_DIR / "catalog" / "management" / "commands" / "seed_demo.py").exists():
        raise BenchError("catalog/management/commands/seed_demo.py is missing: the bench needs its demo data")


def run(config: Config) -> int:
    preflight()
    started = datetime.datetime.now().astimezone()
    load = " ".join(f"{n:.2f}" for n in os.getloadavg())
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    env = bench_environment(config)

    log("fresh database, migrate, collectstatic, seed_demo")
    setup_started = time.monotonic()
    fresh_database(config)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    manage(env, "seed_demo", "--quiet", "--force")
    ids = pick_ids(env)
    log(f"the bench customer: {ORDER_COUNT} orders through orders.services, and a session")
    customer = bench_customer(env)
    log(
        f"the bench customer's orders took {customer['seconds']:.1f} s: "
        + ", ".join(
            f"{call} {customer['calls'][call]} × {mean_ms(customer, call):.1f} ms" for call in customer["calls"]
        )
    )
    csrf = secrets.token_hex(16)  # the CSRF secret every POST of the bench sends as cookie and token
    targets = endpoints(ids, customer, csrf)
    setup_seconds = time.monotonic() - setup_started
    log(f"setup took {setup_seconds:.1f} s")

    port = free_port()
    log_path = BENCH_DIR / "gunicorn.log"
    results = []
    redis_port = free_port()
    # As in production: Redis is the shared cache (sessions, the page cache) and the broker.
    server_env = dict(env, REDIS_URL=f"redis://{HOST}:{redis_port}/0")
    with open(log_path, "w") as log_file, open(BENCH_DIR / "wrk.log", "w") as raw_log:
        server = redis_server = None
        try:
            redis_server = start_redis(redis_port, log_file)
            server = start_gunicorn(server_env, port, config.workers, log_file)
            wait_until_healthy(server, port, log_path)
            for endpoint in targets:
                if endpoint.form is None:
                    check_200(port, endpoint, log_path)
            for endpoint in targets:
                if endpoint.form is not None:
                    check_200(port, endpoint, log_path)
                log(f"loading {endpoint.shown} for {config.warmup} + {config.duration} s")
                results.append(measure(config, port, endpoint, raw_log))
                if server.poll() is not None:
                    raise BenchError(f"gunicorn died during the run; see {log_path}:\n{tail(log_path)}")
            mixed = mixed_run(config, port, server_env, ids, customer, csrf, raw_log)
        finally:
            if server is not None:
                stop_gunicorn(server)
                log("gunicorn stopped")
            if redis_server is not None:
                stop_process_group(redis_server, "redis-server")

    log(f"PDFs of order {customer['detail_number']}: {config.pdf_runs} renders each after a warm-up")
    pdfs = pdf_render(env, config, customer["detail_number"])
    documents = {"pdf": pdfs, "worker": None}
    if shutil.which("redis-server") is None:
        log("no redis-server: the worker run is skipped (`scripts/install-system-packages.sh bench` installs it)")
    else:
        documents["worker"] = worker_run(env, config)

    table = report(config, results, started, load, ids, customer, setup_seconds, documents, mixed)
    (BENCH_DIR / "latest.md").write_text(table)
    print(table)
    log(f"table written to {(BENCH_DIR / 'latest.md').relative_to(BASE_DIR)}; raw wrk output in var/bench/wrk.log")
    if any(result.errors for result in results):
        log("FAILED: some responses were errors (see the errors column)")
        return 1
    if mixed_failures(config, mixed):
        log("FAILED: the mixed load " + "; ".join(mixed_failures(config, mixed)))
        return 1
    if documents_failed(documents):
        log("FAILED: the worker did not make every order's documents exactly once (see var/bench/worker.log)")
        return 1
    return 0


def raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    # SIGTERM/SIGHUP take the same path as Ctrl-C, so `finally` stops gunicorn.
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.signal(signal.SIGHUP, raise_interrupt)
    try:
        return run(Config.from_env())
    except BenchError as error:
        log(f"FAILED: {error}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
