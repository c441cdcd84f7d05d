"""The outside scanners, quick profile: `python -m scripts.scan` starts the shop under
gunicorn with production settings on 127.0.0.1 (plain http, LOCAL_PLAIN_HTTP), runs wapiti
anonymous and signed in as the demo customer and sqlmap on the storefront, the product-key
finder, My Orders and the login form, and exits 0 only when every finding is in
scripts/scan_findings.json. `make scan` runs the full profile."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Its own database, server and scanners: the test database's backend changes nothing.
pytestmark = [pytest.mark.scan, pytest.mark.once]

BASE_DIR = Path(__file__).resolve().parent.parent.parent
RUNS = [
    "wapiti anonymous", "wapiti customer", "sqlmap storefront", "sqlmap key finder", "sqlmap login form", "sqlmap My Orders",
]


def scan_database_url() -> str | None:
    """With the suite on PostgreSQL, the scanned shop is on PostgreSQL too (a database of its
    own, <name>_scan, which the scan drops and recreates): it enforces what SQLite does
    not (column lengths: a sign-in with a 300-character username was a 500 only there)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return None
    base, _, name = url.rpartition("/")
    return f"{base}/{name.split('?')[0]}_scan"


@pytest.fixture(scope="module")
def quick_scan(tmp_path_factory):
    scan_dir = tmp_path_factory.mktemp("scan")
    env = {**os.environ, "SCAN_PROFILE": "quick", "SCAN_DIR": str(scan_dir)}
    if scan_database_url():
        env["SCAN_DATABASE_URL"] = scan_database_url()
    result = subprocess.run(
        [sys.executable, "-m", "scripts.scan"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=600
    )
    return scan_dir, result


def test_quick_scan_finds_nothing_that_is_not_explained(quick_scan):
    _, result = quick_scan
    report = result.stdout + result.stderr[-6000:]
    assert result.returncode == 0, report
    runs = re.findall(r"^\| (wapiti \w+|sqlmap [\w ]+?) \| \d+ s \|", result.stdout, re.MULTILINE)
    assert sorted(runs) == sorted(RUNS), report


def test_the_scanners_were_sent_to_the_shop_on_127_0_0_1_only(quick_scan):
    """Every scanner's log starts with its command line: one URL host, the shop's port on
    127.0.0.1; wapiti without crash reports and with its callback endpoint on the shop;
    sqlmap in batch mode, declining its crash handler's GitHub issue."""
    scan_dir, _ = quick_scan
    commands = [log.read_text(errors="replace").splitlines()[0] for log in sorted(scan_dir.glob("*/*/*.log"))]
    assert len(commands) == len(RUNS), commands
    for command in commands:
        hosts = set(re.findall(r"https?://[^\s/]+", command))
        assert len(hosts) == 1 and hosts.pop().startswith("http://127.0.0.1:"), command
        if "<WAPITI_SHIM>" in command:
            assert "--no-bugreport" in command and re.search(r"--endpoint http://127\.0\.0\.1:\d+/ ", command), command
        else:
            assert command.startswith("$ sqlmap ") and "--batch" in command and "--answers=Github=N" in command, command
