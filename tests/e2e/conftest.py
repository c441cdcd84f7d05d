"""Browser tier: Playwright drives Debian's Chromium against Django's live_server.

Every test under tests/e2e is marked `e2e`, so the root conftest skips it (or,
with REQUIRE_SERVICES=1, fails it) when there is no Chromium.
"""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the tests still
# touch the ORM there (factories, assertions), which Django otherwise refuses.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

HERE = Path(__file__).resolve().parent
ARTIFACTS_DIR = HERE.parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    # This hook sees the whole session's items, not only this folder's.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: `playwright install` needs the internet, which CI lacks."""
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # An English browser: the shop must still answer in Chinese (only its own
    # language switcher changes the language, never Accept-Language).
    return {**browser_context_args, "locale": "en-US"}


@pytest.fixture(scope="session")
def artifacts_dir():
    """test-artifacts/ at the repository root (gitignored); CI keeps what lands here."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture(autouse=True)
def _no_csp_violations(request):
    """A test using `page` fails when Chromium reports a Content-Security-Policy
    violation (an inline script, style or handler the policy refused) on any page of
    its browser context: the page would be broken for real visitors too."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    violations = []

    def listen(p):
        p.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)

    listen(page)
    page.context.on("page", listen)
    yield
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations), pytrace=False)
