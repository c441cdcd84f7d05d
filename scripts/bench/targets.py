"""The Targets table that ends `make bench`: each target of the issue and of DESIGN.md with
this run's figure and PASS or MISS, and the checks of the loads; any MISS exits 1."""

from __future__ import annotations

from dataclasses import dataclass

from .config import PARTS, Config
from .customers import unexpected
from .load import Result
from .mixed import mixed_failures

# Each page's requests per second as a share of /healthz's in the same run, by group.
RATIO_TARGETS = {"public": 0.6, "signed-in": 0.4}
PAGE_P95_MS = 200  # every page, at 16 connections (DESIGN.md)
CHECKOUT_P95_MS = 150
PDF_MEDIAN_MS = {"invoice": 120, "contract": 250}
PDF_MAX_BYTES = 150_000
WORKER_SECONDS, WORKER_ORDERS, WORKER_PROCESSES = 45, 200, 2


@dataclass(frozen=True)
class Target:
    name: str
    figure: str
    met: bool


def target_rows(config: Config, results: list[Result], documents: dict, mixed: dict, customers: dict) -> list[Target]:
    baseline = results[0].rps if results and results[0].endpoint.path == "/healthz" else 0.0
    rows = []
    for group, share in RATIO_TARGETS.items():
        pages = [r for r in results if r.endpoint.group == group]
        if pages and baseline:
            worst = min(pages, key=lambda r: r.ratio(baseline))
            beside = "beside it" if worst.baseline_rps else "first"
            rows.append(Target(
                f"{group} pages ≥ {share} × /healthz ({len(pages)} pages, the lowest shown)",
                f"{worst.ratio(baseline):.2f} ({worst.endpoint.name}; /healthz {worst.baseline_rps or baseline:,.0f} "
                f"req/s {beside})",
                worst.ratio(baseline) >= share,
            ))
    errors = [r for r in results if r.errors]
    if results:
        rows.append(Target(
            "pages and checkout POSTs: every answer as expected (200, a POST 302), no socket error",
            "; ".join(f"{r.endpoint.name}: {r.error_detail}" for r in errors) or "all",
            not errors,
        ))
    pages = [r for r in results if r.endpoint.group in ("public", "signed-in")]
    if pages:
        worst = max(pages, key=lambda r: r.p95_ms)
        rows.append(Target(
            f"every page p95 < {PAGE_P95_MS} ms at {config.connections} connections",
            f"{worst.p95_ms:.1f} ms ({worst.endpoint.name})",
            worst.p95_ms < PAGE_P95_MS,
        ))
    for result in (r for r in results if r.endpoint.group == "order placed"):
        rows.append(Target(
            f"checkout POST p95 < {CHECKOUT_P95_MS} ms ({config.connections} connections, each places an order)",
            f"{result.p95_ms:.1f} ms ({result.rps:,.0f} orders/s)",
            result.p95_ms < CHECKOUT_P95_MS,
        ))
    pdf = documents["pdf"]
    if pdf is not None:
        for key, name in (("invoice", "invoice sheet"), ("contract", "signed contract")):
            row = pdf[key]
            rows.append(Target(
                f"{name} ≤ {PDF_MEDIAN_MS[key]} ms, median of ≥ 20 renders",
                f"{row['median_ms']:.1f} ms (median of {pdf['runs']})",
                row["median_ms"] <= PDF_MEDIAN_MS[key] and pdf["runs"] >= 20,
            ))
        largest = max(pdf["invoice"]["bytes"], pdf["contract"]["bytes"])
        rows.append(Target(f"each PDF < {PDF_MAX_BYTES // 1000} KB", f"{largest / 1024:.1f} KiB at most", largest < PDF_MAX_BYTES))
    worker = documents["worker"]
    if worker is not None:
        complete = worker["done"] == worker["invoices"] == worker["contracts"] == worker["orders"]
        rows.append(Target(
            f"{WORKER_ORDERS} orders' documents ≤ {WORKER_SECONDS} s with {WORKER_PROCESSES} worker processes",
            f"{worker['seconds']:.1f} s ({worker['orders']} orders, {worker['concurrency']} processes"
            + ("" if complete else f"; only {worker['done']} done") + ")",
            complete and worker["seconds"] <= WORKER_SECONDS and worker["orders"] >= WORKER_ORDERS
            and worker["concurrency"] <= WORKER_PROCESSES,
        ))
    if mixed is not None:
        rows.append(Target(
            "mixed load (one customer): no error, orders and documents as made, reconcile clean",
            f"{mixed['errors']} errors, {mixed['orders_made']} orders / {mixed['posts']} POSTs, "
            f"{'clean' if not mixed['findings'] else str(len(mixed['findings'])) + ' findings'}",
            not mixed_failures(config, mixed),
        ))
    if customers is not None:
        bad = sum(unexpected(customers).values())
        rows += [
            Target(
                f"many customers ({customers['customers']} for {config.customers_duration} s): no unexplained "
                "non-2xx (non-302 for a POST) nor socket error",
                f"{bad} unexplained, {sum(customers['socket_errors'].values())} socket errors",
                not bad and not customers["socket_errors"],
            ),
            Target(
                "many customers: orders made = checkout POSTs answered 302; documents done; reconcile --files clean",
                f"{customers['orders_made']} = {customers['checkout_302']} of {customers['checkout_posts']}; "
                f"{customers['documents']} documents for {customers['confirmed']} confirmed; "
                f"{'clean' if not customers['findings'] else str(len(customers['findings'])) + ' findings'}",
                customers["orders_made"] == customers["checkout_302"] == customers["checkout_posts"]
                and not customers["orders_not_theirs"]
                and customers["documents"] == 2 * customers["confirmed"]
                and not customers["jobs_open"] and not customers["jobs_failed"] and not customers["findings"],
            ),
            Target(
                "many customers: no page, message or document of another customer (checked in the load and after)",
                f"{len(customers['problems'])} wrong in the load, {len(customers['isolation']['failures'])} in "
                f"{customers['isolation']['requests']:,} isolation requests",
                not customers["problems"] and not customers["isolation"]["failures"],
            ),
        ]
    return rows


def targets_report(config: Config, rows: list[Target]) -> list[str]:
    lines = ["", "## Targets", "", "| target | figure | |", "|---|---|---|"]
    lines += [f"| {row.name} | {row.figure} | {'PASS' if row.met else 'MISS'} |" for row in rows]
    misses = [row for row in rows if not row.met]
    lines += ["", f"{len(rows) - len(misses)} of {len(rows)} PASS" + (f"; MISS: {'; '.join(r.name for r in misses)}." if misses else ".")]
    skipped = [part for part in PARTS if part not in config.parts]
    if skipped:
        lines.append(f"Not run (BENCH_PARTS): {', '.join(skipped)}; their targets are not in the table.")
    return lines
