"""Values that must be new in every response, on a page the cache keeps.

A kept page is rendered once and served to many: the CSRF token and the checkout form's
one-time token must not be rendered into it. On a page the cache may keep, the template
tags ({% csrf_token %}, {% fresh_input %}: mall/templatetags/pagecache.py) render a
placeholder instead and note its kind on the request; the cache fills in a new value of
that kind in every response it sends, the first one included, and stores only the page
with placeholders. Any other way a token reaches a page (`{{ csrf_token }}` in a meta
tag or a header, a view calling get_token()) sets the CSRF cookie or puts the visitor's
secret in the body, and the middleware then does not store the page.
"""

import secrets
import uuid

from . import django_internals

CSRF = "csrf"
UUID = "uuid"

# Unguessable and new in each process: no text a visitor typed can be one, and a page
# never leaves the process with a placeholder in it.
_PROCESS_SECRET = secrets.token_hex(16)
PLACEHOLDERS = {kind: f"pagecache-{kind}-{_PROCESS_SECRET}" for kind in (CSRF, UUID)}

# The request attribute where the middleware keeps the placeholders a page used; present
# only on a request whose page the cache may keep.
REQUEST_ATTRIBUTE = "_page_cache_placeholders"


def expect_placeholders(request) -> None:
    """`request`'s page may be kept: its tokens are to be rendered as placeholders."""
    setattr(request, REQUEST_ATTRIBUTE, {})


def placeholder(request, kind: str) -> str | None:
    """The placeholder to render for a new value of `kind`, if `request`'s page may be
    kept; None to render a real value as usual."""
    used = getattr(request, REQUEST_ATTRIBUTE, None) if request is not None else None
    if used is None:
        return None
    used[PLACEHOLDERS[kind]] = kind
    return PLACEHOLDERS[kind]


def used(request) -> dict[str, str]:
    """The placeholders `request`'s page has, placeholder -> kind."""
    return dict(getattr(request, REQUEST_ATTRIBUTE, None) or {})


def fill(request, body: bytes, placeholders: dict[str, str]) -> bytes:
    """`body` with each placeholder replaced by a new value of its kind, for this request."""
    for text, kind in placeholders.items():
        marker = text.encode()
        if marker in body:
            body = body.replace(marker, _new_value(request, kind).encode())
    return body


def _new_value(request, kind: str) -> str:
    if kind == CSRF:
        # A new mask of the visitor's own secret (read from their CSRF cookie by the CSRF
        # middleware that runs around the filling, which also sets the cookie): what
        # get_token() returns, with one system call for its randomness instead of 64.
        return django_internals.new_csrf_token(request)
    return str(uuid.uuid4())
