"""The Django details the page cache relies on that are not documented API, one function
each. mall/tests/test_pagecache_django.py checks every one against the installed Django:
after an upgrade, a failure there names the function to change and what it assumed.
Nothing else in the page cache reaches into Django's internals."""

from functools import cache
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.messages.storage.session import SessionStorage
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


def render_csrf_input(context) -> str:
    """What Django's own {% csrf_token %} renders in `context`."""
    return CsrfTokenNode().render(context)


def model_managers(model) -> list:
    """Every manager of `model`, the default one first (inherited ones included)."""
    return list(model._meta.managers)
