"""`make scan`: Debian's wapiti and sqlmap against the shop on 127.0.0.1, anonymous and
signed in as the demo customer, and a table of what they found with a verdict for each.
docs/security.md ("Scanners") says what was found, when, and why each is or is not real.

How
    1. An isolated environment under var/scan/ (SCAN_DIR): a fresh SQLite database, or
       the PostgreSQL database SCAN_DATABASE_URL names (dropped and recreated: its name
       must contain "scan"); production settings with a random secret key and
       LOCAL_PLAIN_HTTP=1 (plain http on loopback: no https redirect, HSTS or Secure
       cookies, which a scanner over http would not send back); `migrate`,
       `collectstatic`, `seed_demo --quiet --force`. The rate limits are raised so that
       the scanners reach the views behind them (the limits have their own tests).
    2. gunicorn (2 sync workers) on a free port of 127.0.0.1, its own process group,
       always stopped at the end. The demo customer signs in through the login form,
       once for wapiti and once for sqlmap; both sessions must still be signed in at the
       end (wapiti never crawls the sign-out).
    3. Three lanes side by side: wapiti anonymous; wapiti signed in, then sqlmap on My
       Orders (once wapiti no longer changes the customer's orders); sqlmap on the
       storefront, the product-key finder and the login form's username. Each step in its
       own process group, its output in its log, killed at its limit (a failure).
    4. The findings: wapiti's JSON reports (and the methods its log names), sqlmap's
       output, and every 500, 503 and worker timeout in the server's log. Each is looked
       up in scripts/scan_findings.json (fixed, or not real and why); one not there is
       OPEN and fails the run. The table goes to stdout and var/scan/latest.md.

Only 127.0.0.1
    wapiti gets the shop's URL with --scope folder, its callback endpoint (which the ssrf
    and xxe modules would reach at wapiti3.ovh; both are left out) set to the shop,
    --no-bugreport (a crashed module would upload its traceback) and an empty Wappalyzer
    database (wapp would fetch one from GitHub); sqlmap gets --batch, and stdin from
    /dev/null with --answers=Github=N (its crash handler asks, even in batch mode, to open
    a GitHub issue). Neither is asked to update. Both run with HOME under SCAN_DIR and
    http(s)_proxy pointing at a closed port of 127.0.0.1 with no_proxy=127.0.0.1,localhost,
    so a request to any other host fails instead of leaving the machine.

wapiti 3.0.4 (Debian 12) runs through a shim (scanners.WAPITI_SHIM) that mends how it
sends, not what it tests: its -x patterns put the regex flags last, which Python 3.11
refuses; its CSRF module does not know Django's csrfmiddlewaretoken, and would call every
form unprotected instead of checking that a wrong token is refused; and it leaves
responses unread, so gunicorn 27's graceful close held a worker 2 s for each request.

Profiles (SCAN_PROFILE): "full" (`make scan`: 2-2.5 min on this 2-core machine, up to 3.7
min while it was busy) and "quick" (the scan test tier: 1-2 min; fewer wapiti modules and
shorter limits, sqlmap level 1 with the boolean, error and UNION techniques only).

Exit status: 0 every finding known, 1 an OPEN finding, 2 a set-up step or a scanner
failed (the table would be incomplete), 130 interrupted.

Environment (all optional): SCAN_PROFILE (full), SCAN_DIR (var/scan), SCAN_DATABASE_URL.
Run: `make scan`, or `.venv/bin/python -m scripts.scan` once the venv exists. Only the
standard library at import time; the PostgreSQL reset uses the venv's django-environ and
psycopg2.
"""
