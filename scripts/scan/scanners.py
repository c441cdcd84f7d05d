"""The scanners' commands and environment, and running them: each in its own process
group with its output in its log, lanes side by side, each step killed at its limit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .config import CLOSED_PORT, CUSTOMER_PAGES, HOST, Profile, ScanError, log
from .shop import stop

WAPITI_SHIM = r"""
import re, sys
import requests
from wapitiCore.attack import mod_csrf
from wapitiCore.net import crawler

def wildcard_translate(pattern):
    return re.compile("(?ms)" + ".*".join(map(re.escape, pattern.split("*"))) + r"\Z")

def send_whole(self, request, **kwargs):
    return send(self, request, **{**kwargs, "stream": False})

crawler.wildcard_translate = wildcard_translate
mod_csrf.mod_csrf.TOKEN_FORM_STRINGS.append("csrfmiddlewaretoken")
send, requests.Session.send = requests.Session.send, send_whole
from wapitiCore.main.wapiti import wapiti_main
sys.argv[0] = "wapiti"
sys.exit(wapiti_main())
"""


def scanner_environment(scan_dir: Path) -> dict[str, str]:
    proxy = f"http://{HOST}:{CLOSED_PORT}"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(scan_dir / "home"),
        "PYTHONUNBUFFERED": "1",  # the logs are complete even when a scanner is killed
        **dict.fromkeys(("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"), proxy),
        **dict.fromkeys(("no_proxy", "NO_PROXY"), f"{HOST},localhost"),
    }


def wapiti_command(profile: Profile, port: int, out: Path, cookies: dict | None) -> list[str]:
    interpreter = Path(shutil.which("wapiti")).read_text().splitlines()[0].removeprefix("#!").strip()
    base = f"http://{HOST}:{port}/"
    command = [
        interpreter, "-c", WAPITI_SHIM, "-u", base, "--scope", "folder", "-m", profile.wapiti_modules,
        "-x", f"{base}accounts/logout/*", "-x", f"{base}static/*",
        "-d", str(profile.depth), "--max-links-per-page", str(profile.links_per_page),
        "--max-files-per-dir", str(profile.files_per_dir),
        "--max-scan-time", str(profile.crawl_seconds), "--max-attack-time", str(profile.attack_seconds),
        "-t", "10", "--endpoint", base, "--no-bugreport", "--flush-session",
        "--store-session", str(out / "session"), "--store-config", str(out / "config"),
        "-f", "json", "-o", str(out / "report.json"), "-v", "1",
    ]
    # 3.0.4 loads every module, and wapp (not one of those run) fetches its database from
    # GitHub when the config directory has none: an empty one keeps it home.
    (out / "config").mkdir(parents=True, exist_ok=True)
    (out / "config" / "apps.json").write_text("{}")
    if cookies:
        cookie = {"expires": None, "secure": False, "port": None, "version": 0}  # wapiti's JSON cookie file
        jar = {HOST: {"/": {name: {"value": value, **cookie} for name, value in cookies.items()}}}
        (out / "cookies.json").write_text(json.dumps(jar))
        command += ["-c", str(out / "cookies.json")]
        command += [arg for page in CUSTOMER_PAGES for arg in ("-s", base + page)]
        # Sign-in and registration are the anonymous run's. Every request to the password
        # change runs the password hasher (~0.3 s): dozens of payloads per field would take
        # each module's whole time; its fields only reach check_password and set_password.
        command += ["-x", f"{base}accounts/*", "-x", f"{base}account/password/*"]
    return command


def sqlmap_targets(profile: Profile, port: int, cookies: dict[str, str]) -> dict[str, list[str]]:
    base = f"http://{HOST}:{port}"
    session = "; ".join(f"{k}={v}" for k, v in cookies.items())
    level = f"--level={profile.sqlmap_level}"
    return {
        "storefront": [
            "-u", f"{base}/services/?q=E3&product=1&platform=1&module=1", "-p", "q,product,platform,module", level,
        ],
        "key finder": ["-u", f"{base}/services/by-key/?key=E3ALL-0000-DEMO", "-p", "key", level],
        # The username only: the password is hashed and compared in Python, never part of
        # a query. The probe's own username is locked by django-axes after its fifth
        # failure (sqlmap then counts a few 429s); every payload is a username of its own.
        "login form": [
            "-u", f"{base}/accounts/login/", "-p", "username", "--level=1",
            "--data=csrfmiddlewaretoken=x&username=scan-probe&password=not-the-password&next=%2F",
            "--csrf-token=csrfmiddlewaretoken", f"--csrf-url={base}/accounts/login/",
        ],
        "My Orders": [
            "-u", f"{base}/account/orders/?number=2026&start=2026-01-01&end=2026-12-31", "-p", "number,start,end",
            f"--cookie={session}", level,
        ],
    }


def sqlmap_command(profile: Profile, out: Path, target: list[str]) -> list[str]:
    return [
        "sqlmap", *target, "--batch", "--disable-coloring", "--answers=Github=N", f"--output-dir={out}",
        f"--technique={profile.sqlmap_techniques}", "--risk=1", "--time-sec=2", "--timeout=10", "--retries=1",
        "-v", "1",
    ]


@dataclass
class Step:
    name: str
    command: list[str]
    log_path: Path
    limit: int  # seconds; a step still running then is killed and fails the scan
    process: subprocess.Popen | None = None
    started: float = 0.0
    took: float | None = None


def run_lanes(lanes: list[list[Step]], env: dict[str, str]) -> None:
    """Each lane's steps one after another, the lanes side by side; each step in its own
    process group, its output in its log."""
    waiting = [list(lane) for lane in lanes]
    current: list[Step | None] = [None] * len(lanes)
    try:
        while any(waiting) or any(current):
            for i, step in enumerate(current):
                if step is not None and step.process.poll() is not None:
                    step.took, current[i] = time.monotonic() - step.started, None
                elif step is not None and time.monotonic() - step.started > step.limit:
                    raise ScanError(f"{step.name} still running after {step.limit} s (killed); see {step.log_path}")
                if current[i] is None and waiting[i]:
                    current[i] = start_step(waiting[i].pop(0), env)
            time.sleep(0.2)
    finally:
        for step in current:
            if step is not None:
                stop(step.process)


def start_step(step: Step, env: dict[str, str]) -> Step:
    log(f"{step.name}: {step.log_path}")
    with open(step.log_path, "w") as log_file:
        log_file.write("$ " + " ".join(step.command).replace(WAPITI_SHIM, "<WAPITI_SHIM>") + "\n\n")
        log_file.flush()
        step.started = time.monotonic()
        step.process = subprocess.Popen(
            step.command, cwd=step.log_path.parent, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    return step
