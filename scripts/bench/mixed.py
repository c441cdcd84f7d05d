"""The mixed load: MIXED_LUA against the running gunicorn with a real worker taking its
tasks, then the counts, `manage.py reconcile`, what fails the run and its table."""

from __future__ import annotations

import json
import re
import subprocess
from urllib.parse import urlencode

from .config import BASE_DIR, BENCH_DIR, HOST, PYTHON, BenchError, Config, log
from .environment import manage
from .load import checkout_form
from .lua import LUA_UUID4, MIXED_LUA, lua_list, lua_string
from .servers import start_worker, stop_process_group, tail
from .shell_scripts import MIXED_COUNT


def bench_counts(env: dict[str, str], timeout: int = 0) -> dict:
    output = manage(env, "shell", "-c", MIXED_COUNT % {"timeout": timeout})
    match = re.search(r"^BENCH_COUNT (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"could not count the bench's orders:\n{output}")
    return json.loads(match.group(1))


def mixed_run(config: Config, port: int, env: dict[str, str], ids: dict, customer: dict, csrf: str, raw_log) -> dict:
    """MIXED_LUA for config.mixed_duration seconds against the running gunicorn, with a real
    worker taking the tasks (e-mails, documents) from the same Redis; then every document
    job must finish and `manage.py reconcile` must find nothing."""
    before = bench_counts(env)
    origin = f"https://{HOST}:{port}"
    lua = BENCH_DIR / f"mixed-{port}.lua"  # per run, as load.wrk's
    lua.write_text(MIXED_LUA % {
        "cookie": lua_string(f"sessionid={customer['session']}; csrftoken={csrf}"),
        "origin": lua_string(origin),
        "referer": lua_string(origin + "/account/orders/"),
        "browse": lua_list([
            "/", "/services/", "/services/?" + urlencode({"q": "京东"}), f"/services/{ids['detail']}/",
            "/services/?" + urlencode({"product": ids["e3"], "platform": ids["jd"]}),
        ]),
        "mine": lua_list([
            "/account/orders/", f"/account/orders/{customer['detail_number']}/", f"/checkout/{ids['detail']}/",
            "/account/orders/?" + urlencode({"tab": "in_trade"}),
        ]),
        "checkout": lua_string(f"/checkout/{ids['detail']}/"),
        "checkout_body": lua_string(checkout_form(ids, customer, csrf)),
        "csrf": lua_string(csrf),
        "confirm": lua_list(f"/account/orders/{number}/confirm/" for number in customer["in_trade"]),
        "threads": config.threads,
        "uuid4": LUA_UUID4,
    })
    log_path = BENCH_DIR / "mixed-worker.log"
    with open(log_path, "w") as log_file:
        # Below the web processes: on one machine, the PDFs must not starve the pages.
        worker = start_worker(env, config.worker_concurrency, log_file, niceness=10)
        try:
            command = [
                "wrk", "--threads", str(config.threads), "--connections", str(config.connections),
                "--duration", f"{config.mixed_duration}s", "--timeout", "5s", "--latency",
                "--script", str(lua), f"http://{HOST}:{port}/",
            ]
            log(f"mixed load for {config.mixed_duration} s, a worker taking its tasks")
            completed = subprocess.run(command, capture_output=True, text=True)
            raw_log.write(f"$ {' '.join(command)}\n{completed.stdout}{completed.stderr}\n")
            match = re.search(r"^BENCH_RESULT (.*)$", completed.stdout, re.MULTILINE)
            if completed.returncode != 0 or not match:
                raise BenchError(f"wrk failed on the mixed load:\n{completed.stdout}{completed.stderr}")
            data = json.loads(match.group(1))
            log(f"waiting for the worker (at most {config.worker_timeout} s)")
            after = bench_counts(env, timeout=config.worker_timeout)
            if worker.poll() is not None:
                raise BenchError(f"the worker exited with {worker.returncode}; see {log_path}:\n{tail(log_path)}")
        finally:
            stop_process_group(worker, "the worker")
    reconcile = subprocess.run(
        [str(PYTHON), "manage.py", "reconcile", "--json"], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    try:
        findings = json.loads(reconcile.stdout)["findings"]
    except (ValueError, KeyError):
        raise BenchError(f"reconcile printed no report (exit {reconcile.returncode}):\n{reconcile.stderr[-2000:]}") from None
    socket_errors = sum(data[key] for key in ("connect", "read", "write", "timeout"))
    return {
        "requests": data["requests"],
        "seconds": data["duration_us"] / 1e6,
        "p50_ms": data["p50_us"] / 1000,
        "p95_ms": data["p95_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "errors": data["non2xx"] + socket_errors,
        "posts": data["posts"],
        "confirms": data["confirms"],
        "orders_made": after["orders"] - before["orders"],
        "confirmed": after["success"] - before["success"],
        "documents": (after["invoices"] - before["invoices"]) + (after["contracts"] - before["contracts"]),
        "jobs_open": after["jobs_open"],
        "jobs_failed": after["jobs_failed"],
        "waited": after["waited"],
        "findings": findings,
    }


def mixed_failures(config: Config, mixed: dict) -> list[str]:
    """What makes the mixed load a failure: errors, orders lost or invented, documents
    not made exactly once, any reconcile finding."""
    problems = []
    if mixed["errors"]:
        problems.append(f"{mixed['errors']} errors")
    # wrk stops with up to one request per connection in flight: those may or may not have landed.
    if not mixed["posts"] - config.connections <= mixed["orders_made"] <= mixed["posts"]:
        problems.append(f"{mixed['posts']} checkout POSTs sent but {mixed['orders_made']} orders made")
    if mixed["documents"] != 2 * mixed["confirmed"]:
        problems.append(f"{mixed['confirmed']} orders confirmed but {mixed['documents']} documents made")
    if mixed["jobs_open"] or mixed["jobs_failed"]:
        problems.append(f"{mixed['jobs_open']} document jobs unfinished, {mixed['jobs_failed']} failed")
    if mixed["findings"]:
        problems.append(f"reconcile: {len(mixed['findings'])} findings")
    return problems


def mixed_report(config: Config, mixed: dict) -> list[str]:
    problems = mixed_failures(config, mixed)
    return [
        "",
        f"Mixed load: {config.mixed_duration} s, {config.connections} connections, each cycling through 20 steps: "
        "12 anonymous pages (home, lists, detail), 6 of the customer's (My Orders, order detail, checkout), "
        "1 checkout POST (a new order) and 1 确认收货 POST (the next order in 交易中; a repeat once all are "
        "confirmed); a real worker (prefork, "
        f"{config.worker_concurrency} processes, at `nice` 10 as background work on a shared machine should be) "
        "took the e-mails and documents from the same Redis meanwhile. "
        "Then every document job had to finish and `manage.py reconcile` to find nothing:",
        "",
        "| requests | req/s | p50 ms | p95 ms | p99 ms | errors | checkout POSTs | orders made | 确认收货 POSTs "
        "| orders confirmed | documents made | reconcile |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {mixed['requests']:,} | {mixed['requests'] / mixed['seconds']:,.0f} | {mixed['p50_ms']:.1f} | "
        f"{mixed['p95_ms']:.1f} | {mixed['p99_ms']:.1f} | {mixed['errors']} | {mixed['posts']} | "
        f"{mixed['orders_made']} | {mixed['confirms']} | {mixed['confirmed']} | {mixed['documents']} | "
        f"{'clean' if not mixed['findings'] else str(len(mixed['findings'])) + ' findings'} |",
        "",
        ("Mixed load: " + ("; ".join(problems) + "." if problems else
         f"zero errors; the worker finished {mixed['waited']:.0f} s after the load stopped.")),
    ]
