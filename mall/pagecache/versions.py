"""The versions that make cached pages stale: one per customer, one shared (the catalogue).

They live in the shared cache (Redis), so every web and worker process bumps and reads the
same ones. A change outside a transaction bumps at once. Inside one, its bumps wait for the
commit, and are made then, one round trip for every key the transaction changed: until it
commits, other connections see the rows from before it, so a page they store meanwhile
shows those, under a version the commit makes stale. Only this connection sees the
changed rows before the commit, so before this process reads a version inside the
transaction (to serve or key a page), the keys changed since are bumped first
(`bump_pending`): a page it stored earlier in the transaction is not served for them.
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
    """The keys a transaction's changes bumped: all bumped when it commits; those not yet
    bumped inside it (`pending`) before this process reads a version."""

    def __init__(self, keys):
        self.keys: set[str] = set(keys)
        self.pending: set[str] = set(keys)

    def add(self, keys) -> None:
        self.keys.update(keys)
        self.pending.update(keys)

    def bump_pending(self) -> None:
        if self.pending:
            bump(sorted(self.pending))
            self.pending.clear()

    def __call__(self) -> None:
        bump(sorted(self.keys))


def _commit_bump() -> _CommitBump | None:
    # Any _CommitBump registered in this transaction will do: the savepoints it was registered
    # in are either released or enclose the changes after it, so if one of them is rolled
    # back, those changes are too. A key whose change was rolled back is bumped all the same
    # (harmless).
    return next((hook for hook in django_internals.commit_hooks() if isinstance(hook, _CommitBump)), None)


def _bump_changed(keys: list[str]) -> None:
    if not keys:
        return
    if transaction.get_autocommit():  # no transaction: the change is visible to all
        bump(keys)
        return
    hook = _commit_bump()
    if hook is None:
        transaction.on_commit(_CommitBump(keys))
    else:
        hook.add(keys)


def bump_pending() -> None:
    """Inside a transaction, before reading a version: bump the keys its changes made stale
    since the last read, so this process does not serve itself a page it stored before them
    (a page cache lookup in a transaction is rare outside tests; outside one, nothing to do)."""
    hook = _commit_bump()
    if hook is not None:
        hook.bump_pending()


def customer_changed(user_id) -> None:
    """What customer `user_id` sees has changed: their cached pages are stale."""
    customers_changed([user_id])


def customers_changed(user_ids) -> None:
    _bump_changed(sorted({customer_version_key(user_id) for user_id in user_ids if user_id is not None}))


def shared_changed() -> None:
    """The catalogue or the agreement changed: every cached page is stale."""
    _bump_changed([SHARED_VERSION_KEY])


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
    bump_pending()
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
