"""Load generation: the endpoints measured (Endpoint), the checkout form a browser posts,
the one request each must answer as expected before it is loaded (check_200), and the
wrk runs (wrk, measure) that make each endpoint's Result."""

from __future__ import annotations

import http.client
import json
import re
import statistics
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlencode

from .config import BENCH_DIR, FORWARDED_PROTO, HOST, BenchError, Config
from .lua import LUA_UUID4, WRK_LUA, lua_string
from .servers import tail


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str  # as requested: percent-encoded
    session: str | None = None  # the bench customer's session key: a signed-in page
    form: str | None = None  # a POST's urlencoded body (a fresh checkout_token is added per request)
    csrf: str | None = None  # the CSRF secret sent as the csrftoken cookie, and in `form`
    expect: int = 200

    @property
    def method(self) -> str:
        return "POST" if self.form is not None else "GET"

    @property
    def shown(self) -> str:
        return ("POST " if self.form is not None else "") + unquote(self.path)

    @property
    def group(self) -> str:
        if self.path == "/healthz":
            return "baseline"
        if self.form is not None:
            return "order placed"  # a write: DESIGN's ratios are for pages, its p95 target holds
        return "signed-in" if self.session else "public"

    def headers(self, port: int | None = None) -> dict[str, str]:
        """As the TLS proxy forwards a browser's request; the session cookie for a
        signed-in page; for a POST the CSRF cookie and the Origin and Referer a browser sends."""
        headers = {FORWARDED_PROTO[0]: FORWARDED_PROTO[1]}
        if self.session:
            headers["Cookie"] = f"sessionid={self.session}" + (f"; csrftoken={self.csrf}" if self.csrf else "")
        if self.form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"https://{HOST}:{port}"
            headers["Referer"] = f"https://{HOST}:{port}{self.path}"
        return headers

    def lua(self) -> str:
        return WRK_LUA % {
            "expect": f"[{self.expect}] = true",
            "method": lua_string(self.method),
            "body": lua_string(self.form or ""),
            "uuid4": LUA_UUID4,
        }


@dataclass(frozen=True)
class Result:
    endpoint: Endpoint
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    error_detail: str
    # /healthz's requests per second in the slices interleaved with this page's (None:
    # measured in one piece, as /healthz itself and the POSTs are).
    baseline_rps: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def ratio(self, first_baseline: float) -> float | None:
        """Requests per second as a share of /healthz's: the /healthz slices interleaved
        with this page's when there were some, else the run's first /healthz."""
        baseline = self.baseline_rps or first_baseline
        return self.rps / baseline if baseline else None


def checkout_form(ids: dict, customer: dict, csrf: str) -> str:
    """The checkout page's form as a browser posts it for the detail service, quantity 1,
    the saved invoice profile, paid through a third party (checkout_token added per request)."""
    fields = {
        "csrfmiddlewaretoken": csrf,
        "invoice_profile": customer["profile"],
        "agreement": customer["agreement"],
        "agreement_accepted": "on",
        "payment_method": "third_party",
        f"quantity_{ids['detail']}": 1,
        **customer["details"],
    }
    return urlencode(fields)


def endpoints(ids: dict, customer: dict, csrf: str) -> list[Endpoint]:
    session = customer["session"]
    checkout = f"/checkout/{ids['detail']}/"
    return [
        Endpoint("healthz", "/healthz"),  # the baseline: first, and every ratio divides by it
        Endpoint("home", "/"),
        Endpoint("service list", "/services/"),
        Endpoint("service list, E3 × 京东", "/services/?" + urlencode({"product": ids["e3"], "platform": ids["jd"]})),
        Endpoint("service list, keyword", "/services/?" + urlencode({"q": "京东"})),
        Endpoint("service detail", f"/services/{ids['detail']}/"),
        # Signed in as the bench customer (its session cookie; ORDER_COUNT orders).
        Endpoint("checkout", checkout, session),
        Endpoint("My Orders", "/account/orders/", session),
        Endpoint("My Orders, 交易中 tab", "/account/orders/?" + urlencode({"tab": "in_trade"}), session),
        Endpoint("order detail", f"/account/orders/{customer['detail_number']}/", session),
        # Last of the pages: every request places an order (302 to the new order's page).
        Endpoint("checkout POST", checkout, session, form=checkout_form(ids, customer, csrf), csrf=csrf, expect=302),
        # Again at the end: if the machine's load changed during the run, this
        # row's ratio drifts away from 1.00 and the other ratios are suspect.
        Endpoint("healthz, again", "/healthz"),
    ]


def check_200(port: int, endpoint: Endpoint, log_path: Path) -> None:
    """One request that must answer as the load will: 200 for a page, 302 for a POST."""
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        body = None
        if endpoint.form is not None:
            body = endpoint.form + f"&checkout_token={uuid.uuid4()}"
        connection.request(endpoint.method, endpoint.path, body=body, headers=endpoint.headers(port))
        response = connection.getresponse()
        status, content = response.status, response.read()
    except OSError as error:
        raise BenchError(f"{endpoint.shown} failed: {error}") from None
    finally:
        connection.close()
    if status != endpoint.expect:
        snippet = content[:500].decode(errors="replace")
        signed_in = " with the bench customer's session cookie (a 302 is a redirect to sign-in)" if endpoint.session else ""
        raise BenchError(
            f"{endpoint.shown}{signed_in} answered {status}, not {endpoint.expect}: refusing to load it.\n{snippet}\n"
            f"gunicorn log {log_path}:\n{tail(log_path)}"
        )


def wrk(config: Config, port: int, endpoint: Endpoint, seconds: int, raw_log) -> dict | None:
    # Named after the run's port: a bench must never run another's script (a POST script
    # against `/` answers 403 to every request; docs/performance.md).
    lua = BENCH_DIR / f"endpoint-{port}.lua"
    lua.write_text(endpoint.lua())
    command = [
        "wrk",
        "--threads", str(config.threads),
        "--connections", str(config.connections),
        "--duration", f"{seconds}s",
        "--timeout", "5s",
        "--latency",
        *[arg for name, value in endpoint.headers(port).items() for arg in ("--header", f"{name}: {value}")],
        "--script", str(lua),
        f"http://{HOST}:{port}{endpoint.path}",
    ]
    completed = subprocess.run(command, capture_output=True, text=True)
    raw_log.write(f"$ {' '.join(command)}\n{completed.stdout}{completed.stderr}\n")
    raw_log.flush()
    if completed.returncode != 0:
        raise BenchError(f"wrk failed on {endpoint.path} (exit {completed.returncode}):\n{completed.stderr}")
    match = re.search(r"^BENCH_RESULT (.*)$", completed.stdout, re.MULTILINE)
    statuses = re.search(r"^BENCH_STATUSES (.*)$", completed.stdout, re.MULTILINE)
    if not match or not statuses:
        raise BenchError(f"wrk printed no result for {endpoint.path}:\n{completed.stdout}")
    return dict(json.loads(match.group(1)), statuses={int(k): n for k, n in json.loads(statuses.group(1)).items()})


def measure(config: Config, port: int, endpoint: Endpoint, raw_log, baseline: Endpoint | None = None) -> Result:
    """The endpoint under wrk for config.duration seconds after a warm-up. A page with a
    `baseline` (/healthz) is measured in config.rounds slices, each after a slice of
    /healthz and the last followed by one more: the page's ratio is to /healthz at the
    same moments, so a machine whose speed drifts during the run (other tenants, CPU
    boost) moves both alike. Its p50 is the median of the slices', p95 and p99 the
    highest slice's."""
    if config.warmup:
        wrk(config, port, endpoint, config.warmup, raw_log)
    if baseline is None:
        return _result(endpoint, [wrk(config, port, endpoint, config.duration, raw_log)])
    seconds = max(1, config.duration // config.rounds)
    slices, baseline_slices = [], [wrk(config, port, baseline, seconds, raw_log)]
    for _round in range(config.rounds):
        slices.append(wrk(config, port, endpoint, seconds, raw_log))
        baseline_slices.append(wrk(config, port, baseline, seconds, raw_log))
    return _result(endpoint, slices, baseline=_result(baseline, baseline_slices))


def _result(endpoint: Endpoint, runs: list[dict], baseline: Result | None = None) -> Result:
    statuses: dict[int, int] = {}
    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    for data in runs:
        for status, n in data["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
        for kind in socket_errors:
            socket_errors[kind] += data[kind]
    socket_errors = {kind: n for kind, n in socket_errors.items() if n}
    detail = ", ".join(
        [f"{n} × {status}" for status, n in sorted(statuses.items())] + [f"{n} {kind}" for kind, n in socket_errors.items()]
    )
    errors = sum(data["non2xx"] for data in runs) + sum(socket_errors.values())
    if baseline is not None and baseline.errors:
        errors += baseline.errors
        detail = ", ".join(filter(None, [detail, f"/healthz beside it: {baseline.error_detail}"]))
    return Result(
        endpoint=endpoint,
        requests=sum(data["requests"] for data in runs),
        seconds=sum(data["duration_us"] for data in runs) / 1e6,
        p50_ms=statistics.median(data["p50_us"] for data in runs) / 1000,
        p95_ms=max(data["p95_us"] for data in runs) / 1000,
        p99_ms=max(data["p99_us"] for data in runs) / 1000,
        errors=errors,
        error_detail=detail,
        baseline_rps=baseline.rps if baseline is not None else None,
    )
