"""The many-customers load: CUSTOMERS (BENCH_CUSTOMERS) customers seeded in bulk, all
driven at once by wrk (lua.CUSTOMERS_LUA, one connection per thread) for
BENCH_CUSTOMERS_DURATION seconds while a real worker makes the documents of the orders
they confirm; then the checks: every document job done, `reconcile --json --files`
clean, orders made = checkout POSTs answered 302, every order number a customer was
shown theirs, and the isolation pass (isolation.py). Its tables: per page group, and
every answer that was not the expected one, by group and status."""

from __future__ import annotations

import json
import math
import re
import subprocess
from collections import Counter, defaultdict
from urllib.parse import urlencode

from .config import BASE_DIR, BENCH_DIR, HOST, PYTHON, BenchError, Config, log
from .environment import manage
from .isolation import isolation_check
from .lua import CUSTOMERS_LUA, LUA_UUID4, lua_list, lua_string
from .servers import start_worker, stop_process_group, tail
from .shell_scripts import CUSTOMERS_FACTS, CUSTOMERS_SEED

# Each customer's marker: in its real name, company, invoice title and store name.
MARKER = "KH%04dQ"
MARKER_PATTERN = "KH%d%d%d%dQ"  # the same, as a Lua pattern (isolation.MARKER_RE in Python)
USERNAME_PREFIX = "bench0"  # bench0001 …; the single bench customer is "bench"
IN_TRADE = 3  # orders in 交易中 per customer, for 确认收货 during the load
QUIET = 6  # seconds before the end when POSTs stop (more than wrk's 5 s timeout)

# Answers other than the expected one (GET 200, POST 302) that the bench accepts, by
# (group, status), each with its reason. Empty: any other answer fails the run.
ALLOWED = {}


def customers_seed(env: dict[str, str], config: Config) -> dict:
    script = CUSTOMERS_SEED % {"count": config.customers, "in_trade": IN_TRADE, "marker": MARKER}
    # The seed's order e-mails are not the bench's business: dropped, not printed.
    output = manage(dict(env, EMAIL_URL="dummymail://"), "shell", "-c", script)
    match = re.search(r"^BENCH_CUSTOMERS (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"could not seed the customers:\n{output[-2000:]}")
    seeded = json.loads(match.group(1))
    if len(seeded["customers"]) != config.customers:
        raise BenchError(f"{len(seeded['customers'])} customers seeded, not {config.customers}")
    return seeded


def customers_facts(env: dict[str, str], *, since: int = 0, timeout: int = 0) -> dict:
    script = CUSTOMERS_FACTS % {"timeout": timeout, "prefix": USERNAME_PREFIX, "since": since}
    output = manage(env, "shell", "-c", script)
    match = re.search(r"^BENCH_FACTS (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"could not read what the customers' load made:\n{output[-2000:]}")
    return json.loads(match.group(1))


def customers_lua(config: Config, port: int, ids: dict, seeded: dict) -> str:
    checkout = f"/checkout/{ids['detail']}/"
    paths = {
        "home": "/",
        "list": "/services/",
        "list_q": "/services/?" + urlencode({"q": "京东"}),
        "filtered": "/services/?" + urlencode({"product": ids["e3"], "platform": ids["jd"]}),
        "detail": f"/services/{ids['detail']}/",
        "mine": "/account/orders/",
        "mine_in_trade": "/account/orders/?" + urlencode({"tab": "in_trade"}),
        "messages": "/account/messages/",
        "checkout": checkout,
        "after_checkout": "/account/orders/?" + urlencode({"tab": "awaiting"}),
    }
    customers = []
    for customer in seeded["customers"]:
        body = urlencode({
            "csrfmiddlewaretoken": customer["csrf"],
            "invoice_profile": customer["profile"],
            "agreement": seeded["agreement"],
            "agreement_accepted": "on",
            "payment_method": "third_party",
            f"quantity_{ids['detail']}": 1,
            **customer["details"],
        })
        customers.append(
            "{marker = %s, session = %s, csrf = %s, checkout_body = %s, orders = {%s}, in_trade = {%s}}" % (
                lua_string(customer["marker"]), lua_string(customer["session"]), lua_string(customer["csrf"]),
                lua_string(body), lua_list(customer["orders"]), lua_list(customer["in_trade"]),
            )
        )
    return CUSTOMERS_LUA % {
        "customers": ",\n  ".join(customers),
        "paths": ", ".join(f"{name} = {lua_string(path)}" for name, path in paths.items()),
        "origin": lua_string(f"https://{HOST}:{port}"),
        "duration": config.customers_duration,
        "quiet": QUIET,
        "connections": config.connections,
        "marker_pattern": MARKER_PATTERN,
        "uuid4": LUA_UUID4,
    }


def parse_wrk(stdout: str) -> dict:
    """The lines CUSTOMERS_LUA's done() prints, summed over the threads."""
    match = re.search(r"^BENCH_RESULT (.*)$", stdout, re.MULTILINE)
    if not match:
        raise BenchError(f"wrk printed no result for the customers' load:\n{stdout[-2000:]}")
    data = json.loads(match.group(1))
    counts, statuses, latencies, seen, problems = Counter(), defaultdict(Counter), defaultdict(list), defaultdict(set), []
    for line in stdout.splitlines():
        kind, _, rest = line.partition("\t") if line.startswith("BENCH_") and "\t" in line else line.partition(" ")
        if kind == "BENCH_COUNTS":
            counts.update(json.loads(rest))
        elif kind == "BENCH_STATUS":
            group, _, pairs = rest.partition("\t")
            for pair in pairs.split():
                status, _, n = pair.partition("=")
                statuses[group][int(status)] += int(n)
        elif kind == "BENCH_LATENCY":
            group, _, values = rest.partition("\t")
            latencies[group] += [int(value) / 1000 for value in values.split()]
        elif kind == "BENCH_SEEN":
            customer, _, numbers = rest.partition("\t")
            seen[int(customer)] |= set(numbers.split())
        elif kind == "BENCH_PROBLEM":
            problems.append(rest)
    data.update(counts=dict(counts), statuses=statuses, latencies=latencies, seen=seen, problems=problems)
    return data


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (as wrk's): the smallest value with `fraction` of them at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def customers_run(config: Config, port: int, env: dict[str, str], ids: dict, seeded: dict, raw_log) -> dict:
    """CUSTOMERS_LUA against the running gunicorn with a real worker; then the checks."""
    before = customers_facts(env)
    lua = BENCH_DIR / f"customers-{port}.lua"  # per run: two benches side by side must not share it
    lua.write_text(customers_lua(config, port, ids, seeded))
    log_path = BENCH_DIR / "customers-worker.log"
    with open(log_path, "w") as log_file:
        worker = start_worker(env, config.worker_concurrency, log_file, niceness=10)
        try:
            # One connection per thread: each response is read knowing whose request it answers.
            command = [
                "wrk", "--threads", str(config.connections), "--connections", str(config.connections),
                "--duration", f"{config.customers_duration}s", "--timeout", "5s",
                "--script", str(lua), f"http://{HOST}:{port}/",
            ]
            log(f"{config.customers} customers at once for {config.customers_duration} s, a worker taking their documents")
            completed = subprocess.run(command, capture_output=True, text=True)
            raw_log.write(f"$ {' '.join(command)}\n{completed.stdout[-20000:]}{completed.stderr}\n")
            if completed.returncode != 0:
                raise BenchError(f"wrk failed on the customers' load:\n{completed.stdout[-2000:]}{completed.stderr}")
            data = parse_wrk(completed.stdout)
            log(f"waiting for the worker (at most {config.worker_timeout} s)")
            after = customers_facts(env, since=before["max_order"], timeout=config.worker_timeout)
            if worker.poll() is not None:
                raise BenchError(f"the worker exited with {worker.returncode}; see {log_path}:\n{tail(log_path)}")
        finally:
            stop_process_group(worker, "the worker")
    reconcile = subprocess.run(
        [str(PYTHON), "manage.py", "reconcile", "--json", "--files"], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    try:
        findings = json.loads(reconcile.stdout)["findings"]
    except (ValueError, KeyError):
        raise BenchError(f"reconcile printed no report (exit {reconcile.returncode}):\n{reconcile.stderr[-2000:]}") from None
    log("isolation: every customer's pages, messages and documents, with the page cache on")
    isolation = isolation_check(port, seeded, after)
    return summarize(config, data, before, after, findings, isolation, seeded)


def summarize(config: Config, data: dict, before: dict, after: dict, findings: list, isolation: dict, seeded: dict) -> dict:
    customers = seeded["customers"]
    owner = {row["number"]: row["customer"] for row in after["orders"]}
    shown_elsewhere = []
    for index, numbers in data["seen"].items():
        customer = customers[index - 1]
        shown_elsewhere += [
            f"{customer['marker']} was shown order {number} ({'unknown' if number not in owner else 'of customer ' + str(owner[number])})"
            for number in sorted(numbers) if owner.get(number) != customer["id"]
        ]
    new = [row for row in after["orders"] if row["new"]]
    groups = {}
    for group, values in data["latencies"].items():
        groups[group] = {
            "requests": len(values),
            "p50_ms": percentile(values, 0.50),
            "p95_ms": percentile(values, 0.95),
            "p99_ms": percentile(values, 0.99),
            "statuses": dict(data["statuses"][group]),
        }
    counts = data["counts"]
    confirmed = {row["number"] for row in after["orders"] if row["status"] == "success"}
    in_trade_before = {number for customer in customers for number in customer["in_trade"]}
    return {
        "customers": len(customers),
        "seed_seconds": seeded["seconds"],
        "requests": data["requests"],
        "seconds": data["duration_us"] / 1e6,
        "socket_errors": {key: data[key] for key in ("connect", "read", "write", "timeout") if data[key]},
        "groups": groups,
        "visits": counts.get("visits", 0),
        "checkout_posts": counts.get("checkout", 0),
        "checkout_302": counts.get("checkout_302", 0),
        "confirm_posts": counts.get("confirm", 0),
        "confirm_302": counts.get("confirm_302", 0),
        "orders_made": len(new),
        "orders_not_theirs": [row["number"] for row in new if not row["own_marker"]],
        "confirmed": len(confirmed & in_trade_before),
        "documents": after["invoices"] + after["contracts"],
        "jobs_open": after["jobs_open"],
        "jobs_failed": after["jobs_failed"],
        "waited": after["waited"],
        "findings": findings,
        "problems": data["problems"] + shown_elsewhere,
        "isolation": isolation,
    }


def unexpected(result: dict) -> dict:
    """(group, status) -> count of answers neither expected nor in ALLOWED."""
    bad = {}
    for group, row in result["groups"].items():
        expected = 302 if group.endswith("POST") else 200
        for status, n in row["statuses"].items():
            if status != expected and (group, status) not in ALLOWED:
                bad[(group, status)] = n
    return bad


def customers_failures(config: Config, result: dict) -> list[str]:
    problems = []
    bad = unexpected(result)
    if bad:
        problems.append("unexpected answers: " + ", ".join(f"{group} {status} × {n}" for (group, status), n in bad.items()))
    if result["socket_errors"]:
        problems.append("socket errors: " + ", ".join(f"{n} {kind}" for kind, n in result["socket_errors"].items()))
    if result["problems"]:
        problems.append(f"{len(result['problems'])} wrong pages, redirects or order numbers (listed below)")
    if result["orders_made"] != result["checkout_302"] or result["checkout_302"] != result["checkout_posts"]:
        problems.append(
            f"{result['checkout_posts']} checkout POSTs, {result['checkout_302']} answered 302, "
            f"{result['orders_made']} orders made"
        )
    if result["orders_not_theirs"]:
        problems.append(f"orders made for another customer than the form's: {result['orders_not_theirs'][:5]}")
    if result["documents"] != 2 * result["confirmed"]:
        problems.append(f"{result['confirmed']} orders confirmed but {result['documents']} documents made")
    if result["jobs_open"] or result["jobs_failed"]:
        problems.append(f"{result['jobs_open']} document jobs unfinished, {result['jobs_failed']} failed")
    if result["findings"]:
        problems.append(f"reconcile --files: {len(result['findings'])} findings")
    if result["isolation"]["failures"]:
        problems.append(f"isolation: {len(result['isolation']['failures'])} failures (listed below)")
    return problems


def customers_report(config: Config, result: dict) -> list[str]:
    seconds = result["seconds"] or 1
    lines = [
        "",
        f"Many customers: {result['customers']} customers (seeded in bulk in {result['seed_seconds']:.0f} s: users, "
        f"invoice profiles and sessions written directly, {IN_TRADE + 1} orders each through orders.services), "
        f"{config.connections} connections (one per wrk thread, each visiting its share of the customers in turn), "
        f"{config.customers_duration} s, a real worker (prefork, {config.worker_concurrency} processes, nice 10) "
        "making the documents of the orders confirmed. Each visit: the storefront anonymously and signed in, "
        "My Orders, an order, 我的消息, the checkout page, a checkout POST, 确认收货 of the next order in 交易中, "
        f"each POST's redirect followed with its flash message; POSTs stop {QUIET} s before the end. "
        f"{result['requests']:,} requests, {result['requests'] / seconds:,.0f} req/s, {result['visits']} visits:",
        "",
        "| page group | requests | req/s | p50 ms | p95 ms | p99 ms | answers |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for group, row in sorted(result["groups"].items(), key=lambda item: -item[1]["requests"]):
        answers = ", ".join(f"{n:,} × {status}" for status, n in sorted(row["statuses"].items()))
        lines.append(
            f"| {group} | {row['requests']:,} | {row['requests'] / seconds:,.1f} | {row['p50_ms']:.1f} | "
            f"{row['p95_ms']:.1f} | {row['p99_ms']:.1f} | {answers} |"
        )
    bad = unexpected(result)
    allowed = {key: n for group, row in result["groups"].items() for key, n in
               (((group, status), n) for status, n in row["statuses"].items()) if key in ALLOWED}
    lines += ["", "Answers other than GET 200 / POST 302 to the expected page, by group and status:"]
    if not bad and not allowed and not result["socket_errors"]:
        lines.append("none.")
    for (group, status), n in sorted(bad.items()):
        lines.append(f"- {group}: {n:,} × {status} (not explained: fails the run)")
    for (group, status), n in sorted(allowed.items()):
        lines.append(f"- {group}: {n:,} × {status}, allowed: {ALLOWED[(group, status)]}")
    if result["socket_errors"]:
        lines.append("- socket errors: " + ", ".join(f"{n} {kind}" for kind, n in result["socket_errors"].items()))
    isolation = result["isolation"]
    lines += [
        "",
        "| checkout POSTs | answered 302 | orders made | 确认收货 POSTs | answered 302 | orders confirmed | "
        "documents made | jobs open / failed | reconcile --files | order numbers shown, not the customer's |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
        f"| {result['checkout_posts']} | {result['checkout_302']} | {result['orders_made']} | {result['confirm_posts']} | "
        f"{result['confirm_302']} | {result['confirmed']} | {result['documents']} | {result['jobs_open']} / "
        f"{result['jobs_failed']} | {'clean' if not result['findings'] else str(len(result['findings'])) + ' findings'} | "
        f"{sum(1 for p in result['problems'] if ' was shown order ' in p)} |",
        "",
        f"Isolation, after the load (page cache on, every page read twice: rendered, then from the cache): "
        f"{isolation['customers']} customers, {isolation['requests']:,} requests: My Orders, their first and newest "
        "order, 我的消息 (only their marker, only their order numbers); their contract and invoice PDFs (200, a PDF; "
        f"{isolation['with_documents']} customers had documents); the next customer's order page, contract and "
        "invoice with their own session (404): "
        + ("all as expected." if not isolation["failures"] else f"{len(isolation['failures'])} failures."),
    ]
    listed = result["problems"][:20] + isolation["failures"][:20]
    if listed:
        lines += ["", "Problems (first 20 of each kind):"] + [f"- {text}" for text in listed]
    lines.append(f"\nThe worker finished {result['waited']:.0f} s after the load stopped.")
    return lines
