"""The Django details the page cache relies on that are not documented API, one function
each. mall/tests/test_pagecache_django.py checks every one against the installed Django:
after an upgrade, a failure there names the function to change and what it assumed.
Nothing else in the page cache reaches into Django's internals."""

import os
from functools import cache
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.messages.storage.session import SessionStorage
from django.db import connections
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.template.defaulttags import CsrfTokenNode


def session_user_id(session) -> str | None:
    """The id of the user signed in to `session` (a session, or its data as a dict), or None.
    django.contrib.auth keeps it under SESSION_KEY."""
    return session.get(SESSION_KEY)


def session_auth_hash(session) -> str:
    """The signed-in user's session auth hash (it changes with the password), or ""."""
    return session.get(HASH_SESSION_KEY, "")


def cached_session_key(session_key: str) -> str | None:
    """The cache key under which the session engine keeps session `session_key`'s data (a
    dict), when the engine keeps sessions in the cache (cached_db), or None."""
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.cached_db":
        return None
    return _cache_key_prefix(settings.SESSION_ENGINE) + session_key


@cache
def _cache_key_prefix(engine: str) -> str:
    return import_module(engine).SessionStore.cache_key_prefix


def carries_messages(request, session) -> bool:
    """The request brings a flash message to show: in the messages cookie (CookieStorage,
    and FallbackStorage's first choice) or in the session (SessionStorage). `session` is the
    session or its data as a dict."""
    return bool(request.COOKIES.get(CookieStorage.cookie_name)) or SessionStorage.session_key in session


def relation_is_loaded(instance, field) -> bool:
    """The object at the forward relation `field` of `instance` is loaded already (reading
    it asks nothing of the database)."""
    return field.is_cached(instance)


def commit_hooks(using: str = "default") -> list:
    """The callables transaction.on_commit() registered in the current transaction of
    database `using` that are still to run when it commits (those of a rolled-back
    savepoint are gone). Django keeps them as (savepoint ids, callable, robust)."""
    return [hook for _sids, hook, _robust in connections[using].run_on_commit]


def render_csrf_input(context) -> str:
    """What Django's own {% csrf_token %} renders in `context`."""
    return CsrfTokenNode().render(context)


def model_managers(model) -> list:
    """Every manager of `model`, the default one first (inherited ones included)."""
    return list(model._meta.managers)


_CSRF_INDEX = {char: index for index, char in enumerate(CSRF_ALLOWED_CHARS)}
# The largest multiple of the alphabet's size a byte can hold: bytes from it up are
# dropped, so every character is equally likely.
_CSRF_BYTE_LIMIT = 256 - 256 % len(CSRF_ALLOWED_CHARS)


def new_csrf_token(request) -> str:
    """What django.middleware.csrf.get_token(request) returns, made faster: a new mask of
    the visitor's CSRF secret (request.META["CSRF_COOKIE"], which the CSRF middleware read
    from their cookie), or of a new secret that the middleware then sets as the cookie
    (CSRF_COOKIE_NEEDS_UPDATE). Django draws each of the 64 random characters with its own
    system call (get_random_string): a quarter of an anonymous page-cache hit. Here they
    come from one os.urandom call. Relies on get_token's request.META keys and on its
    masking (mask + each secret character shifted by the mask's, in CSRF_ALLOWED_CHARS)."""
    secret = request.META.get("CSRF_COOKIE")
    if secret is None:
        secret = _random_csrf_chars(CSRF_SECRET_LENGTH)
        request.META["CSRF_COOKIE"] = secret
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask = _random_csrf_chars(CSRF_SECRET_LENGTH)
    size = len(CSRF_ALLOWED_CHARS)
    cipher = "".join(
        CSRF_ALLOWED_CHARS[(_CSRF_INDEX[s] + _CSRF_INDEX[m]) % size] for s, m in zip(secret, mask)
    )
    return mask + cipher


def _random_csrf_chars(length: int) -> str:
    chars = []
    while len(chars) < length:
        chars += [CSRF_ALLOWED_CHARS[b % len(CSRF_ALLOWED_CHARS)] for b in os.urandom(2 * length) if b < _CSRF_BYTE_LIMIT]
    return "".join(chars[:length])
