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
from .customers import customers_report, customers_run, customers_seed
from .documents import pdf_render, worker_run
from .environment import (
    bench_customer,
    bench_environment,
    fresh_database,
    hold_checkout,
    hold_database,
    manage,
    pick_ids,
)
from .load import check_200, endpoints, measure
from .mixed import mixed_run
from .report import mean_ms, report
from .servers import free_port, start_gunicorn, start_redis, stop_gunicorn, stop_process_group, tail, wait_until_healthy
from .shell_scripts import ORDER_COUNT
from .targets import RATIO_TARGETS, target_rows, targets_report


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
    checkout_lock = hold_checkout()
    database_lock = hold_database(config)
    try:
        return measure_all(config)
    finally:
        if database_lock is not None:
            database_lock.close()
        checkout_lock.close()


def measure_all(config: Config) -> int:
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
    seeded = None
    if "customers" in config.parts:
        log(f"{config.customers} customers for the many-customers load, in bulk")
        seeded = customers_seed(env, config)
        log(f"the customers took {seeded['seconds']:.1f} s")
    csrf = secrets.token_hex(16)  # the CSRF secret every POST of the bench sends as cookie and token
    targets = endpoints(ids, customer, csrf)
    setup_seconds = time.monotonic() - setup_started
    log(f"setup took {setup_seconds:.1f} s")

    results, mixed, customers = [], None, None
    if {"pages", "mixed", "customers"} & set(config.parts):
        results, mixed, customers = serve_and_load(config, env, ids, customer, csrf, targets, seeded)

    documents = {"pdf": None, "worker": None}
    if "pdf" in config.parts:
        log(f"PDFs of order {customer['detail_number']}: {config.pdf_runs} renders each after a warm-up")
        documents["pdf"] = pdf_render(env, config, customer["detail_number"])
    if "worker" in config.parts:
        if shutil.which("redis-server") is None:
            raise BenchError("no redis-server for the worker run: `scripts/install-system-packages.sh bench` installs it")
        documents["worker"] = worker_run(env, config)

    rows = target_rows(config, results, documents, mixed, customers)
    table = "\n".join(
        [report(config, results, started, load, ids, customer, setup_seconds, documents, mixed).rstrip("\n")]
        + (customers_report(config, customers) if customers is not None else [])
        + targets_report(config, rows)
    ) + "\n"
    (BENCH_DIR / "latest.md").write_text(table)
    print(table)
    log(f"table written to {(BENCH_DIR / 'latest.md').relative_to(BASE_DIR)}; raw wrk output in var/bench/wrk.log")
    misses = [row.name for row in rows if not row.met]
    if misses:
        log("FAILED: " + "; ".join(misses))
        return 1
    return 0


def serve_and_load(config: Config, env: dict, ids: dict, customer: dict, csrf: str, targets: list, seeded: dict | None):
    """gunicorn and its Redis, and the loads of config.parts against them: the pages one
    by one, the mixed load, the many customers."""
    results, mixed, customers = [], None, None
    port = free_port()
    log_path = BENCH_DIR / "gunicorn.log"
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
            healthz = next(endpoint for endpoint in targets if endpoint.group == "baseline")
            for endpoint in targets if "pages" in config.parts else []:
                if endpoint.form is not None:
                    check_200(port, endpoint, log_path)
                # Each page's ratio is to /healthz measured between its slices (load.measure).
                baseline = healthz if endpoint.group in RATIO_TARGETS else None
                beside = f" in {config.rounds} slices between /healthz's" if baseline else ""
                log(f"loading {endpoint.shown} for {config.warmup} + {config.duration} s{beside}")
                results.append(measure(config, port, endpoint, raw_log, baseline=baseline))
                if server.poll() is not None:
                    raise BenchError(f"gunicorn died during the run; see {log_path}:\n{tail(log_path)}")
            if "mixed" in config.parts:
                mixed = mixed_run(config, port, server_env, ids, customer, csrf, raw_log)
            if seeded is not None:
                customers = customers_run(config, port, server_env, ids, seeded, raw_log)
        finally:
            if server is not None:
                stop_gunicorn(server)
                log("gunicorn stopped")
            if redis_server is not None:
                stop_process_group(redis_server, "redis-server")
    return results, mixed, customers


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
