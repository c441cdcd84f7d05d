"""Where things are, the one host the scan talks to, the demo customer, the profiles
(SCAN_PROFILE), ScanError and log()."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PYTHON = BASE_DIR / ".venv" / "bin" / "python"
GUNICORN = BASE_DIR / ".venv" / "bin" / "gunicorn"
KNOWN_FINDINGS = BASE_DIR / "scripts" / "scan_findings.json"
HOST = "127.0.0.1"
CUSTOMER = ("demo", "demo-pass-2026")  # seed_demo's customer
CLOSED_PORT = 9  # discard: nothing listens there, so a proxied request is refused at once
# Where the signed-in crawl starts, so that the user centre's forms come first.
CUSTOMER_PAGES = (
    "account/", "account/orders/", "account/profile/", "account/invoice-profiles/", "account/addresses/",
    "account/product-keys/", "account/messages/", "account/inquiries/", "account/refunds/", "account/invoices/",
    "cart/",
)


class ScanError(Exception):
    """A set-up step or a scanner failed: the findings would be incomplete."""


@dataclass(frozen=True)
class Profile:
    wapiti_modules: str
    crawl_seconds: int  # wapiti --max-scan-time (the crawl)
    attack_seconds: int  # wapiti --max-attack-time (each module, checked between requests)
    depth: int
    links_per_page: int
    files_per_dir: int  # requests per path, whatever the query string: bounds ?next=... variants
    sqlmap_level: int  # the GET parameters' (the login form, ~0.4 s a request, gets level 1)
    sqlmap_techniques: str  # B boolean, E error, U UNION, S stacked, T time-based, Q inline
    wapiti_limit: int  # seconds after which a wapiti process is killed (a failure)
    sqlmap_limit: int  # the same for each sqlmap run


# Left out: ssrf and xxe (their payloads call back to an outside endpoint), wapp and
# nikto (they download their databases), buster (brute-forces paths for minutes),
# brute_login_form (guesses passwords: django-axes' job, tested in the suite),
# shellshock (bash CGI; nothing here runs a shell per request).
PASSIVE_MODULES = "methods,cookieflags,http_headers,csp"
FULL_MODULES = f"xss,permanentxss,sql,blindsql,exec,file,crlf,redirect,csrf,backup,htaccess,{PASSIVE_MODULES}"
QUICK_MODULES = f"xss,permanentxss,sql,exec,file,redirect,csrf,{PASSIVE_MODULES}"
PROFILES = {
    "full": Profile(FULL_MODULES, 30, 10, 2, 15, 3, 2, "BEUSTQ", 300, 180),
    "quick": Profile(QUICK_MODULES, 15, 4, 2, 10, 2, 1, "BEU", 240, 120),
}


def log(message: str) -> None:
    print(f"scan: {message}", file=sys.stderr, flush=True)
