"""The run, in order: preflight, the shop, the scanners side by side, the findings and
the table; main() turns it into the exit status (0 every finding known, 1 an open one, 2 a
set-up step or a scanner failed, 130 interrupted)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

from .config import BASE_DIR, CUSTOMER, GUNICORN, HOST, KNOWN_FINDINGS, PROFILES, PYTHON, ScanError, log
from .findings import Run, judge, merge, server_log_findings, sqlmap_findings, table, wapiti_findings
from .scanners import Step, run_lanes, scanner_environment, sqlmap_command, sqlmap_targets, wapiti_command
from .shop import assert_signed_in, free_port, fresh_database, manage, shop_environment, sign_in, start_gunicorn, stop


def preflight() -> None:
    for path in (PYTHON, GUNICORN):
        if not path.exists():
            raise ScanError(f"{path} is missing: run `make install-dev` (or `make scan`) first")
    for program in ("wapiti", "sqlmap"):
        if shutil.which(program) is None:
            raise ScanError(f"{program} is not installed: `scripts/install-system-packages.sh scan` installs it")


def version(command: list[str]) -> str:
    output = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
    return next((line.strip() for line in reversed(output.splitlines()) if re.search(r"\d+\.\d+", line)), "?")


def scan(profile_name: str, scan_dir: Path, database_url: str | None) -> int:
    profile = PROFILES[profile_name]
    preflight()
    started, clock, load = datetime.now().astimezone(), time.monotonic(), os.getloadavg()
    for old in ("wapiti", "sqlmap", "home", "media", "mail"):
        shutil.rmtree(scan_dir / old, ignore_errors=True)
    for new in ("wapiti/anonymous", "wapiti/customer", "sqlmap", "home"):
        (scan_dir / new).mkdir(parents=True, exist_ok=True)
    env, scanner_env = shop_environment(scan_dir, database_url), scanner_environment(scan_dir)
    known = json.loads(KNOWN_FINDINGS.read_text())["findings"]

    log(f"profile {profile_name}: fresh database, migrate, collectstatic, seed_demo")
    fresh_database(scan_dir, database_url)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    manage(env, "seed_demo", "--quiet", "--force")
    database = "PostgreSQL" if database_url else "SQLite"
    runs = [Run("set-up: migrate, collectstatic, seed_demo", time.monotonic() - clock, f"{database}, gunicorn 2 workers")]

    port, server_log = free_port(), scan_dir / "gunicorn.log"
    server_log.write_text("")
    server = start_gunicorn(env, port, server_log)
    try:
        wapiti_cookies, sqlmap_cookies = sign_in(port), sign_in(port)
        log(f"the shop answers on http://{HOST}:{port}/; {CUSTOMER[0]} signed in twice (wapiti, sqlmap)")

        def wapiti(name, cookies):
            out = scan_dir / "wapiti" / name
            command = wapiti_command(profile, port, out, cookies)
            return Step(f"wapiti {name}", command, out / "wapiti.log", profile.wapiti_limit)

        def sqlmap_step(name, target):
            out = scan_dir / "sqlmap" / name.lower().replace(" ", "-")
            out.mkdir()
            command = sqlmap_command(profile, out, target)
            return Step(f"sqlmap {name}", command, out / "sqlmap.log", profile.sqlmap_limit)

        targets = sqlmap_targets(profile, port, sqlmap_cookies)
        sqlmap = {name: sqlmap_step(name, target) for name, target in targets.items()}
        lanes = [
            [wapiti("anonymous", None)],
            # My Orders once wapiti no longer changes the customer's orders under sqlmap's page comparisons.
            [wapiti("customer", wapiti_cookies), sqlmap["My Orders"]],
            [sqlmap["storefront"], sqlmap["key finder"], sqlmap["login form"]],
        ]
        run_lanes(lanes, scanner_env)
        assert_signed_in(port, wapiti_cookies, "after wapiti's signed-in scan")
        assert_signed_in(port, sqlmap_cookies, "after sqlmap's")
    finally:
        stop(server)

    for step in (lanes[0][0], lanes[1][0], *sqlmap.values()):
        output = step.log_path.read_text(errors="replace")
        if step.name.startswith("wapiti"):
            crawled = re.search(r"Wapiti found (\d+) URLs and forms", output)
            run = Run(step.name, step.took, f"{crawled.group(1) if crawled else '?'} URLs and forms crawled")
            run.findings = wapiti_findings(step.log_path.parent / "report.json", output)
        else:
            clean = sorted(set(re.findall(r"parameter '([^']+)' does not seem to be injectable", output)))
            run = Run(step.name, step.took, f"not injectable: {', '.join(clean) or '-'}")
            run.findings = sqlmap_findings(output, step.name.removeprefix("sqlmap "))
        runs.append(run)
    log_run = Run("gunicorn log", 0, "every 500, 503 and worker timeout")
    log_run.findings = server_log_findings(server_log)
    runs.append(log_run)

    findings = judge(merge([f for run in runs for f in run.findings]), known)
    header = (
        f"## make scan ({profile_name}), {started:%Y-%m-%d %H:%M %Z}: {time.monotonic() - clock:.0f} s in all\n\n"
        f"{version(['wapiti', '--version'])}, sqlmap {version(['sqlmap', '--version'])}; "
        f"load average at the start {' '.join(f'{n:.2f}' for n in load)}; reports under {scan_dir}"
    )
    report = table(runs, findings, header)
    (scan_dir / "latest.md").write_text(report)
    print(report)
    open_findings = [f for f in findings if not f.known]
    if open_findings:
        log(f"FAILED: {len(open_findings)} open finding(s); the reports are under {scan_dir}")
        return 1
    return 0


def raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    signal.signal(signal.SIGTERM, raise_interrupt)  # so that `finally` stops gunicorn
    signal.signal(signal.SIGHUP, raise_interrupt)
    profile = os.environ.get("SCAN_PROFILE", "full")
    if profile not in PROFILES:
        log(f"SCAN_PROFILE must be one of {', '.join(PROFILES)}, not {profile!r}")
        return 2
    scan_dir = Path(os.environ.get("SCAN_DIR") or BASE_DIR / "var" / "scan").resolve()
    try:
        return scan(profile, scan_dir, os.environ.get("SCAN_DATABASE_URL") or None)
    except ScanError as error:
        log(f"FAILED: {error}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
