"""Whole-page cache for the busiest GET pages, per visitor, invalidated by versions.

Which pages: CACHED_VIEWS (the storefront, My Orders, an order's page, the checkout
page). Each is cached per signed-in customer (or once for every anonymous visitor),
per language, per full path (query string included) and per day (pages show "ends in
N days" and the like), for at most PAGE_CACHE_SECONDS.

Why it stays correct:

* A customer's cached pages carry the customer's *version*. Any change to what the
  customer can see bumps it: a save or delete of one of their rows (post_save /
  post_delete on the models in OWNED_BY, whoever makes it: the customer, a reviewer,
  finance, a worker, a scheduled job), a bulk `.update()` through
  `customer_changed()`, and, as a safety net, every non-GET request the customer
  sends. Catalogue and agreement changes bump one shared version that every page
  carries. A change bumps at once and again when its transaction commits, and an
  entry is stored with the versions read *before* its page was rendered: a page
  rendered from data older than a bump is never served after it.
* What a page shows from the session (SESSION_VALUES_SHOWN) is part of its key, and a
  page that changes by itself at a known time (an agreement published for a later
  date) is kept only until then: the view says so with `expire_at()`.
* A page is stored only when it is a plain 200 that set no cookie but the CSRF one,
  did not touch the session, and showed no flash message. Requests that carry a
  flash message or come from htmx are never served from the cache.
* Values that must differ per response are cut out before storing and made fresh on
  each hit: the CSRF token (masked from the visitor's own CSRF cookie, which is set
  when missing, exactly as for a rendered page) and the checkout form's one-time
  token (FRESH_INPUTS).
* Each process trusts its copy of the shared (catalogue) version for
  SHARED_VERSION_SECONDS, so an anonymous visitor's hit asks Redis nothing: a
  catalogue change made in another process shows there within 2 seconds (at once
  in the process that made it). A customer's own version is read on every request.
* The session's auth hash is part of the key: a password change or a sign-out ends
  that session's entries. With the cache unavailable (Redis down) nothing is stored
  or served; versions live in the same cache, so entries written before an outage
  also expire within PAGE_CACHE_SECONDS at the latest.

Where things live: the versions in the shared cache (Redis: every web and worker
process bumps and reads the same ones), the pages themselves in each web process's
own memory (the "pages" cache, bounded by its MAX_ENTRIES): a hit then costs one
small read from Redis, not the transfer of a whole page. Each process renders a page
once per version. Without a shared cache (no REDIS_URL) several web processes would
each keep their own versions, so the page cache is on only when PAGE_CACHE_SECONDS > 0,
which the settings make the default only with REDIS_URL (and in tests).
"""

import hashlib
import re
import time
import uuid
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.core.cache import cache, caches
from django.db import DatabaseError, transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.urls import Resolver404, resolve
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers

CACHED_VIEWS = frozenset(
    {
        "catalog:home",
        "catalog:service-list",
        "catalog:service-detail",
        "orders:list",
        "orders:detail",
        "orders:checkout",
    }
)

# Models whose rows a customer sees, and how to find that customer from a row.
OWNED_BY = {
    "accounts.User": "pk",
    "accounts.ProductKey": "user_id",
    "accounts.InvoiceProfile": "user_id",
    "accounts.Address": "user_id",
    "accounts.Message": "user_id",
    "inquiries.Inquiry": "customer_id",
    "inquiries.InquiryMessage": "inquiry__customer_id",
    "orders.Order": "customer_id",
    "orders.OrderLine": "order__customer_id",
    "orders.OrderEvent": "order__customer_id",
    "orders.PaymentProof": "order__customer_id",
    "orders.CartItem": "user_id",
    "orders.ReminderSent": "line__order__customer_id",
    "invoicing.DocumentJob": "order__customer_id",
    "invoicing.Invoice": "order__customer_id",
    "invoicing.InvoiceLine": "invoice__order__customer_id",
    "invoicing.Contract": "order__customer_id",
    "refunds.RefundRequest": "order__customer_id",
}
# Models every page may show (service names, prices, the agreement at checkout).
SHARED = ("catalog.*", "orders.Agreement")

# Hidden inputs whose value must be new in every response: name -> how to make one.
FRESH_INPUTS = {
    "csrfmiddlewaretoken": "csrf",
    "checkout_token": "uuid",
}

# Session values a cached page shows, so part of its key: the product line a visitor's
# key lookup found (catalog.views.SESSION_KEY_LINE: the guide's mismatch warning).
SESSION_VALUES_SHOWN = ("catalog_key_product_line",)

SHARED_VERSION_KEY = "pagecache:v:shared"
PAGES_CACHE = "pages"  # the CACHES alias of the pages: per process, in memory
MESSAGES_COOKIE = "messages"


def _customer_version_key(user_id) -> str:
    return f"pagecache:v:u{user_id}"


def _bump(key: str) -> None:
    cache.set(key, uuid.uuid4().hex, None)
    if key == SHARED_VERSION_KEY:
        _shared_seen.clear()  # this process reads the new one at once


# This process's copy of the shared version, trusted for SHARED_VERSION_SECONDS: an
# anonymous visitor's hit then needs nothing from Redis. Another process's catalogue
# change shows here within that time; this process's own changes at once.
SHARED_VERSION_SECONDS = 2.0
_shared_seen: dict = {}


def _shared_version_known() -> str | None:
    value, until = _shared_seen.get("version", (None, 0.0))
    return value if time.monotonic() < until else None


def _shared_version_remember(value: str | None) -> None:
    if value is not None:
        _shared_seen["version"] = (value, time.monotonic() + SHARED_VERSION_SECONDS)


def _bump_now_and_on_commit(key: str) -> None:
    # Now, so that nothing cached before the change is served again; and once more when
    # the transaction commits, since a page rendered meanwhile saw the old rows.
    _bump(key)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _bump(key))


def customer_changed(user_id) -> None:
    """What customer `user_id` sees has changed: their cached pages are stale."""
    if user_id is not None:
        _bump_now_and_on_commit(_customer_version_key(user_id))


def shared_changed() -> None:
    """The catalogue or the agreement changed: every cached page is stale."""
    _bump_now_and_on_commit(SHARED_VERSION_KEY)


_view_names: dict[str, str | None] = {}


def _view_name(path: str) -> str | None:
    """resolve(path).view_name, remembered (the URLconf does not change while a process runs)."""
    try:
        return _view_names[path]
    except KeyError:
        pass
    try:
        name = resolve(path).view_name
    except Resolver404:
        name = None
    if len(_view_names) >= REMEMBERED_AT_MOST:
        _view_names.clear()
    _view_names[path] = name
    return name


def expire_at(request, when) -> None:
    """The page being rendered for `request` changes by itself at `when` (an aware
    datetime, or None for never), without any write that would bump a version: e.g. an
    agreement published for a later date. A cached copy is dropped by then."""
    if when is not None:
        earliest = getattr(request, "_page_cache_expires", None)
        request._page_cache_expires = when if earliest is None else min(earliest, when)


def clear_local() -> None:
    """Forget what this process remembers besides its page cache (the shared version,
    the sessions seen, the paths resolved): after the shared cache was flushed, and
    between tests (some change the URLconf)."""
    _shared_seen.clear()
    _session_users.clear()
    _view_names.clear()


def _marker(name: str) -> str:
    # Unguessable, so no typed-in text can be mistaken for it.
    digest = hashlib.sha256(f"pagecache:{name}:{settings.SECRET_KEY}".encode()).hexdigest()[:24]
    return f"pc-{name}-{digest}"


def _input_value_pattern(name: str):
    return re.compile(rf'name="{re.escape(name)}" value="([^"]+)"'.encode())


_PATTERNS = {name: _input_value_pattern(name) for name in FRESH_INPUTS}


@dataclass
class _Plan:
    key: str
    version_keys: list[str]
    found: dict | None = None  # versions already read from the cache with the session
    versions: tuple | None = None


# Sessions this process has seen, session key -> user id: for those, the session and the
# page versions are read from Redis at once. The user id of a session never changes
# (signing in again cycles the key); a stale row only costs the usual path.
def _cached_sessions() -> bool:
    return settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db" and (
        settings.SESSION_CACHE_ALIAS == "default"
    )


REMEMBERED_AT_MOST = 10_000
_session_users: dict[str, str] = {}


def _remember_session(session_key: str, user_id) -> None:
    if len(_session_users) >= REMEMBERED_AT_MOST:
        _session_users.clear()
    _session_users[session_key] = str(user_id)


class PageCacheMiddleware:
    """Serves CACHED_VIEWS from the cache, and stores them (see the module).

    Placed after the session and locale middleware (it needs the signed-in user's id
    and the language) and before the rest, so a hit skips them.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.csrf = CsrfViewMiddleware(get_response)

    def __call__(self, request):
        plan = self._plan(request)
        if plan is None:
            return self.get_response(request)
        hit = self._lookup(request, plan)
        if hit is not None:
            return hit
        response = self.get_response(request)
        if plan.versions is not None and self._storable(request, response, plan):
            self._store(request, response, plan)
        return response

    # --- deciding -------------------------------------------------------------------

    def _plan(self, request) -> _Plan | None:
        seconds = getattr(settings, "PAGE_CACHE_SECONDS", 0)
        if not seconds or request.method not in ("GET", "HEAD"):
            return None
        if request.headers.get("HX-Request") or request.COOKIES.get(MESSAGES_COOKIE):
            return None
        if _view_name(request.path_info) not in CACHED_VIEWS:
            return None
        request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware would check it: DisallowedHost is a 400
        prefetched = self._session_and_versions(request)
        if prefetched is not None:
            session, found = prefetched
        else:
            session, found = request.session, None
        try:
            if "_messages" in session:
                return None
            user_id = session.get(SESSION_KEY)
            auth_hash = session.get(HASH_SESSION_KEY, "")
            shown = [str(session.get(name, "")) for name in SESSION_VALUES_SHOWN]
        except DatabaseError:  # the view will meet it too, and answer 503
            return None
        version_keys = [SHARED_VERSION_KEY]
        if user_id is None:
            who = "anonymous"
        else:
            who = f"{user_id}:{auth_hash}"
            version_keys.append(_customer_version_key(user_id))
            if prefetched is None and _cached_sessions() and request.session.session_key:
                _remember_session(request.session.session_key, user_id)
        parts = (who, *shown, translation.get_language(), timezone.localdate().isoformat(), request.get_full_path())
        digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
        return _Plan(key=f"pagecache:page:{digest}", version_keys=version_keys, found=found)

    @staticmethod
    def _session_and_versions(request) -> tuple[dict, dict] | None:
        """A signed-in visitor's session data and page versions in one read from Redis,
        when the session is one this process has seen (cached_db sessions live in the
        same cache): (session data, versions found), or None to take the usual path."""
        if not _cached_sessions():
            return None
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        user_id = _session_users.get(session_key) if session_key else None
        if user_id is None:
            return None
        store_key = request.session.cache_key
        keys = [store_key, _customer_version_key(user_id)]
        if _shared_version_known() is None:
            keys.append(SHARED_VERSION_KEY)
        found = cache.get_many(keys)
        data = found.pop(store_key, None)
        if not isinstance(data, dict) or str(data.get(SESSION_KEY)) != str(user_id):
            return None  # signed out, expired, or not in the cache: the session store decides
        return data, found

    # --- serving --------------------------------------------------------------------

    def _lookup(self, request, plan: _Plan):
        shared = _shared_version_known()
        if plan.found is not None:
            found = plan.found
        else:
            wanted = plan.version_keys[1:] if shared is not None else plan.version_keys
            found = cache.get_many(wanted) if wanted else {}
        if shared is None:
            _shared_version_remember(shared := found.get(SHARED_VERSION_KEY))
        versions = (shared, *(found.get(key) for key in plan.version_keys[1:]))
        entry = caches[PAGES_CACHE].get(plan.key) if None not in versions else None
        if entry is not None and entry["versions"] == versions:
            return self._replay(request, entry)
        plan.versions = self._versions_for_store(plan, versions)
        return None

    def _versions_for_store(self, plan: _Plan, versions: tuple) -> tuple | None:
        """The versions to store this page under: the current ones, created when missing
        (first use, or evicted). None when the cache cannot keep them."""
        if None not in versions:
            return versions
        for key, version in zip(plan.version_keys, versions):
            if version is None:
                cache.add(key, uuid.uuid4().hex, None)
        versions = tuple(cache.get_many(plan.version_keys).get(key) for key in plan.version_keys)
        return None if None in versions else versions

    def _replay(self, request, entry) -> HttpResponse:
        body = entry["body"]
        for name, kind in FRESH_INPUTS.items():
            marker = _marker(name).encode()
            if marker in body:
                body = body.replace(marker, self._fresh(request, kind).encode())
        response = HttpResponse(body)
        for header, value in entry["headers"]:
            response.headers[header] = value
        response.headers["Content-Length"] = str(len(body))  # the fresh values may differ in length
        if "cookie" not in response.get("Vary", "").lower():
            patch_vary_headers(response, ("Cookie",))  # also when the session was read here, not by Django
        return self.csrf.process_response(request, response)

    def _fresh(self, request, kind: str) -> str:
        if kind == "csrf":
            if "CSRF_COOKIE" not in request.META:
                self.csrf.process_request(request)  # reads the visitor's CSRF cookie, if valid
            return get_token(request)
        return str(uuid.uuid4())

    # --- storing --------------------------------------------------------------------

    def _storable(self, request, response, plan: _Plan) -> bool:
        if response.status_code != 200 or response.streaming or request.method != "GET":
            return False
        if set(response.cookies) - {settings.CSRF_COOKIE_NAME}:
            return False
        if getattr(request, "session", None) is not None and request.session.modified:
            return False
        storage = getattr(request, "_messages", None)
        if storage is not None and (storage.used or storage._queued_messages):
            return False
        user = getattr(request, "user", None)
        user_id = str(user.pk) if user is not None and user.is_authenticated else None
        session_user = request.session.get(SESSION_KEY)
        return user_id == (str(session_user) if session_user is not None else None)

    def _store(self, request, response, plan: _Plan) -> None:
        seconds = settings.PAGE_CACHE_SECONDS
        expires = getattr(request, "_page_cache_expires", None)
        if expires is not None:
            seconds = min(seconds, (expires - timezone.now()).total_seconds())
            if seconds <= 0:
                return
        body = response.content
        for name, pattern in _PATTERNS.items():
            for value in set(pattern.findall(body)):
                body = body.replace(value, _marker(name).encode())
        entry = {
            "body": body,
            "headers": [(name, value) for name, value in response.headers.items() if name.lower() != "content-length"],
            "versions": plan.versions,
        }
        caches[PAGES_CACHE].set(plan.key, entry, seconds)


class BumpOnWriteMiddleware:
    """Every request other than GET/HEAD/OPTIONS by a signed-in customer marks their
    pages stale: a safety net under the per-model signals (see the module)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in ("GET", "HEAD", "OPTIONS") and getattr(settings, "PAGE_CACHE_SECONDS", 0):
            try:
                user_id = request.session.get(SESSION_KEY)
            except DatabaseError:  # the request failed on the database, and wrote nothing
                return response
            if user_id is not None:
                _bump(_customer_version_key(user_id))
        return response


# --- signals ------------------------------------------------------------------------


def _owner(instance, path: str):
    """The customer id at `path` ("order__customer_id") from `instance`, following
    cached relations first and asking the database only for what is not loaded."""
    if path == "pk":
        return instance.pk
    first, _, rest = path.partition("__")
    if not rest:
        return getattr(instance, first, None)
    field = instance._meta.get_field(first)
    if field.is_cached(instance):
        related = getattr(instance, first)
        return None if related is None else _owner(related, rest)
    related_id = getattr(instance, field.attname)
    if related_id is None:
        return None
    return field.related_model._default_manager.filter(pk=related_id).values_list(rest, flat=True).first()


def row_changed(instance) -> None:
    """`instance` (a model of OWNED_BY) was changed behind the signals' back (`update()`):
    its customer's cached pages are stale."""
    customer_changed(_owner(instance, OWNED_BY[instance._meta.label]))


def _owned_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        row_changed(instance)


def _shared_changed(sender, **kwargs):
    shared_changed()  # fixtures (raw saves) included: nothing to look up


def connect_signals() -> None:
    for label in OWNED_BY:
        model = apps.get_model(label)
        for signal in (post_save, post_delete):
            signal.connect(_owned_changed, sender=model, dispatch_uid=f"pagecache:{label}:{signal}")
    for label in SHARED:
        app_label, _, model_name = label.partition(".")
        models = apps.get_app_config(app_label).get_models() if model_name == "*" else [apps.get_model(label)]
        for model in models:
            for signal in (post_save, post_delete):
                signal.connect(
                    _shared_changed, sender=model, dispatch_uid=f"pagecache:{model._meta.label}:{signal}"
                )
