"""The Markdown report: the machine and the run, the pages' table with DESIGN.md's targets,
the mixed load's table (mixed.mixed_report) and the documents'."""

from __future__ import annotations

import datetime
import os
import platform as platform_module
import subprocess
from pathlib import Path

from .config import BASE_DIR, Config
from .load import Result
from .mixed import mixed_report
from .targets import PDF_MAX_BYTES, PDF_MEDIAN_MS

DRIFT_WARNING = 0.15  # warn when /healthz at the end differs from the start by more than this


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = "unknown CPU"
    ram = "? GiB"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return f"{cpus} CPUs (nproc), {model}, {ram} RAM, {platform_module.system()} {platform_module.release()}"


def git_revision() -> str:
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=BASE_DIR, capture_output=True, text=True
        ).stdout.strip()
        return revision + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def report(
    config: Config,
    results: list[Result],
    started: datetime.datetime,
    load: str,
    ids: dict,
    customer: dict,
    setup_seconds: float,
    documents: dict,
    mixed: dict,
) -> str:
    baseline = results[0].rps if results and results[0].endpoint.path == "/healthz" else 0.0
    database = "PostgreSQL (BENCH_DATABASE_URL)" if config.database_url else "SQLite (var/bench/db.sqlite3)"
    lines = [
        f"## make bench — {started:%Y-%m-%d %H:%M %Z}".rstrip(),
        "",
        f"- Machine: {machine()}; wrk and gunicorn share it; load average {load} before the run",
        f"- Run: {config.duration} s per endpoint after a {config.warmup} s warm-up (a page's in {config.rounds} "
        "slices, each beside a slice of /healthz), "
        f"{config.connections} connections, {config.threads} wrk threads, "
        f"gunicorn {config.workers} sync workers, production settings, {database}, a private redis-server "
        "as the cache (sessions, page cache) and the broker",
        f"- Data: seed_demo, {ids['on_sale']} services on sale ({ids['e3_jd']} for E3 × 京东); git {git_revision()}",
        f"- Signed-in pages: the bench customer's session cookie (made in the database, not through the login form); "
        f"{customer['orders']} orders ({status_summary(customer['by_status'])}) made through orders.services "
        f"in {customer['seconds']:.1f} s (order_submit {mean_ms(customer, 'submit'):.1f} ms a call); "
        f"whole setup {setup_seconds:.0f} s",
        "- checkout POST: the form a browser sends (CSRF cookie and token, Origin, Referer, a new checkout "
        "token each time); every request places an order and answers 302",
        f"- Parts: {', '.join(config.parts)} (BENCH_PARTS)",
    ]
    if results:
        lines += [
            "",
            "| endpoint | page | req/s | p50 ms | p95 ms | p99 ms | /healthz beside it, req/s | ratio to /healthz "
            "| ratio to the first /healthz | errors |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
    for result in results:
        ratio = result.ratio(baseline)
        beside = f"{result.baseline_rps:,.0f}" if result.baseline_rps else "–"
        shown_ratio = f"{ratio:.2f}" if ratio is not None else "–"
        to_first = f"{result.rps / baseline:.2f}" if baseline else "–"
        lines.append(
            f"| {result.endpoint.name} `{result.endpoint.shown}` | {result.endpoint.group} | {result.rps:,.0f} | "
            f"{result.p50_ms:.1f} | {result.p95_ms:.1f} | {result.p99_ms:.1f} | {beside} | {shown_ratio} | "
            f"{to_first} | {result.errors} |"
        )
    if any(result.baseline_rps for result in results):
        lines += [
            "",
            f"A page's ratio is to /healthz measured beside it: its {config.duration} s were cut into "
            f"{config.rounds} slices, each after a slice of /healthz, and one more /healthz slice followed the last "
            "(p50: the slices' median; p95 and p99: the highest slice's). The first /healthz row is the run's "
            "start, for comparison.",
        ]
    failed = [r for r in results if r.errors]
    if failed:
        lines += ["", "Errors: " + "; ".join(f"{r.endpoint.shown}: {r.error_detail}" for r in failed)]
    repeats = [r for r in results[1:] if r.endpoint.path == "/healthz"]
    drift = repeats[-1].rps / baseline - 1 if baseline and repeats else 0.0
    if abs(drift) > DRIFT_WARNING:
        lines += [
            "",
            f"Warning: /healthz changed by {drift:+.0%} between the start and the end of the run "
            "(other load on the machine?): the pages' ratios are to /healthz measured beside each of them, "
            "but a machine this unsteady makes every figure less sure; run it again.",
        ]
    if mixed is not None:
        lines += mixed_report(config, mixed)
    lines += documents_report(config, documents)
    return "\n".join(lines) + "\n"


PDF_NAMES = {"invoice": "invoice information sheet", "contract": "contract, rendered + signed"}


def documents_report(config: Config, documents: dict) -> list[str]:
    lines = [] if documents["pdf"] is None else pdf_report(documents["pdf"])
    return lines + ([] if documents["worker"] is None else worker_report(config, documents["worker"]))


def pdf_report(pdf: dict) -> list[str]:
    lines = [
        "",
        f"Documents: order `{pdf['number']}` ({pdf['lines']} lines), median of {pdf['runs']} renders after a warm-up "
        "run, one process (`manage.py shell`), production settings:",
        "",
        "| document | median ms | min ms | max ms | size KiB | pages | target | met |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for key, name in PDF_NAMES.items():
        row = pdf[key]
        target_ms = PDF_MEDIAN_MS[key]
        met = row["median_ms"] <= target_ms and row["bytes"] < PDF_MAX_BYTES
        lines.append(
            f"| {name} | {row['median_ms']:.1f} | {row['min_ms']:.1f} | {row['max_ms']:.1f} | "
            f"{row['bytes'] / 1024:.1f} | {row['pages']} | ≤ {target_ms} ms, < {PDF_MAX_BYTES // 1000} KB | "
            f"{'yes' if met else 'no'} |"
        )
    return lines


def worker_report(config: Config, worker: dict) -> list[str]:
    database = "PostgreSQL (BENCH_DATABASE_URL)" if config.database_url else "SQLite (var/bench/db.sqlite3)"
    seconds = worker["seconds"]
    lines = [
        "",
        f"Worker: `celery -A mall worker --pool prefork --concurrency {worker['concurrency']}` on a private "
        f"redis-server (127.0.0.1:{worker['port']}), {database}; {worker['orders']} orders in 交易成功 "
        f"({worker['lines']} lines) made in bulk with their document jobs, then all sent with documents_enqueue "
        f"(took {worker['enqueue_seconds']:.2f} s) and timed until every job was done; "
        "a document is an invoice sheet or a signed contract:",
        "",
        "| run | orders | documents | seconds | orders/s | docs/s | median ms per order | processes used | attempts | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {worker['orders']} orders, {worker['concurrency']} processes | {worker['done']} | "
        f"{worker['invoices'] + worker['contracts']} | {seconds:.1f} | {worker['done'] / seconds:.1f} | "
        f"{(worker['invoices'] + worker['contracts']) / seconds:.1f} | {worker['median_ms']:.0f} | "
        f"{worker['processes']} | {worker['attempts']} | {worker['failed'] + worker['not_sent']} |",
    ]
    if not config.database_url:
        lines += [
            "",
            "SQLite lets one process write at a time: a job that found the database locked was retried after "
            "its backoff (attempts above the order count). Set BENCH_DATABASE_URL for the figure PostgreSQL gives.",
        ]
    if worker["done"] != worker["orders"] or worker["invoices"] != worker["done"] or worker["contracts"] != worker["done"]:
        lines += [
            "",
            f"Error: {worker['done']} of {worker['orders']} jobs done, {worker['invoices']} invoices and "
            f"{worker['contracts']} contracts ({worker['not_sent']} not sent, {worker['failed']} failed); "
            "see var/bench/worker.log.",
        ]
    return lines


def status_summary(by_status: dict) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(by_status.items(), key=lambda item: -item[1]))


def mean_ms(customer: dict, call: str) -> float:
    return 1000 * customer["timings"][call] / customer["calls"][call] if customer["calls"][call] else 0.0
