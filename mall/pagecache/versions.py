"""The versions that make cached pages stale: one per customer, one shared (the catalogue).

They live in the shared cache (Redis), so every web and worker process bumps and reads the
same ones. A change bumps at once and again when its transaction commits: a page rendered
meanwhile saw the old rows, and was stored under the version of the first bump. The bumps at
commit are one per transaction: every key its changes bumped, in one round trip.
"""

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from . import contract, django_internals

SHARED_VERSION_KEY = "pagecache:v:shared"
# This process's copy of the shared version is trusted for SHARED_VERSION_SECONDS: an
# anonymous visitor's hit then asks nothing of Redis. Another process's catalogue change
# shows here within that time; this process's own changes at once.
SHARED_VERSION_SECONDS = 2.0
_shared_seen: dict = {}


def enabled() -> bool:
    """The page cache is on. Settings turn it on only with a shared cache (REDIS_URL) and in
    tests: with a cache per process, each process would keep its own versions and miss the
    changes the others make."""
    return getattr(settings, "PAGE_CACHE_SECONDS", 0) > 0


def customer_version_key(user_id) -> str:
    return f"pagecache:v:u{user_id}"


def bump(keys) -> None:
    cache.set_many({key: uuid.uuid4().hex for key in keys}, None)
    if SHARED_VERSION_KEY in keys:
        _shared_seen.clear()  # this process reads the new one at once


class _CommitBump:
    """The keys a transaction's changes bumped, bumped once more when it commits."""

    def __init__(self, keys):
        self.keys: set[str] = set(keys)

    def __call__(self) -> None:
        bump(sorted(self.keys))


def _bump_on_commit(keys: list[str]) -> None:
    # Any pending _CommitBump of this transaction will do: the savepoints it was registered
    # in are either released or enclose this change, so if one of them is rolled back, this
    # change is too. A key whose change was rolled back is bumped all the same (harmless).
    for hook in django_internals.commit_hooks():
        if isinstance(hook, _CommitBump):
            hook.keys.update(keys)
            return
    transaction.on_commit(_CommitBump(keys))


def _bump_now_and_on_commit(keys: list[str]) -> None:
    if not keys:
        return
    bump(keys)
    if not transaction.get_autocommit():  # inside atomic(): once more when it commits
        _bump_on_commit(keys)


def customer_changed(user_id) -> None:
    """What customer `user_id` sees has changed: their cached pages are stale."""
    customers_changed([user_id])


def customers_changed(user_ids) -> None:
    _bump_now_and_on_commit(sorted({customer_version_key(user_id) for user_id in user_ids if user_id is not None}))


def shared_changed() -> None:
    """The catalogue or the agreement changed: every cached page is stale."""
    _bump_now_and_on_commit([SHARED_VERSION_KEY])


def shared_version_known() -> str | None:
    value, until = _shared_seen.get("version", (None, 0.0))
    return value if time.monotonic() < until else None


def shared_version_remember(value: str | None) -> None:
    if value is not None:
        _shared_seen["version"] = (value, time.monotonic() + SHARED_VERSION_SECONDS)


def shared_version() -> str | None:
    """The catalogue's version, for keying what is cached from the catalogue below the page
    cache (the storefront's fragments and reads). None when nothing may be cached from it:
    the page cache is off (no shared versions) or the cache cannot keep the version."""
    if not enabled():
        return None
    version = shared_version_known()
    if version is None:
        version = cache.get(SHARED_VERSION_KEY)
        if version is None:
            cache.add(SHARED_VERSION_KEY, uuid.uuid4().hex, None)
            version = cache.get(SHARED_VERSION_KEY)
        shared_version_remember(version)
    return version


def owner(instance, path: str):
    """The customer id at `path` ("order__customer_id") from `instance`, following loaded
    relations first and asking the database only for what is not loaded."""
    if path == "pk":
        return instance.pk
    first, _, rest = path.partition("__")
    if not rest:
        return getattr(instance, first, None)
    field = instance._meta.get_field(first)
    if django_internals.relation_is_loaded(instance, field):
        related = getattr(instance, first)
        return None if related is None else owner(related, rest)
    related_id = getattr(instance, field.attname)
    if related_id is None:
        return None
    return field.related_model._default_manager.filter(pk=related_id).values_list(rest, flat=True).first()


def row_changed(instance) -> None:
    """`instance`, a row of a declared model, changed: the pages that show it are stale."""
    path = contract.owner_path(type(instance))
    if path is not None:
        customer_changed(owner(instance, path))
    elif contract.is_shared(type(instance)):
        shared_changed()


def _owned_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        row_changed(instance)


def _shared_changed(sender, **kwargs):
    shared_changed()  # fixtures (raw saves) included: nothing to look up


def connect_signals() -> None:
    """A save or delete of a declared model makes the pages that show it stale."""
    contract.connect_signals(_owned_changed, _shared_changed)


def clear_local() -> None:
    """Forget what this process remembers besides its page cache (the shared version, the
    sessions seen, the paths resolved, the declarations read): after the shared cache was
    flushed, and between tests (some change the URLconf or the declarations)."""
    from . import middleware  # it imports this module

    _shared_seen.clear()
    middleware.forget()
    contract.forget()


def expire_at(request, when) -> None:
    """The page being rendered for `request` changes by itself at `when` (an aware
    datetime, or None for never), without any write that would bump a version: e.g. an
    agreement published for a later date. A cached copy is dropped by then."""
    if when is not None:
        earliest = getattr(request, "_page_cache_expires", None)
        request._page_cache_expires = when if earliest is None else min(earliest, when)
