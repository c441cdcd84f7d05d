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
* A page is stored only when it is a plain 200 that set no cookie but the CSRF one,
  did not touch the session, and showed no flash message. Requests that carry a
  flash message or come from htmx are never served from the cache.
* Values that must differ per response are cut out before storing and made fresh on
  each hit: the CSRF token (masked from the visitor's own CSRF cookie, which is set
  when missing, exactly as for a rendered page) and the checkout form's one-time
  token (FRESH_INPUTS).
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
    "accounts.Inquiry": "customer_id",
    "accounts.InquiryMessage": "inquiry__customer_id",
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

SHARED_VERSION_KEY = "pagecache:v:shared"
PAGES_CACHE = "pages"  # the CACHES alias of the pages: per process, in memory
MESSAGES_COOKIE = "messages"


def _customer_version_key(user_id) -> str:
    return f"pagecache:v:u{user_id}"


def _bump(key: str) -> None:
    cache.set(key, uuid.uuid4().hex, None)


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
    versions: tuple | None = None


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
            self._store(response, plan)
        return response

    # --- deciding -------------------------------------------------------------------

    def _plan(self, request) -> _Plan | None:
        seconds = getattr(settings, "PAGE_CACHE_SECONDS", 0)
        if not seconds or request.method not in ("GET", "HEAD"):
            return None
        if request.headers.get("HX-Request") or MESSAGES_COOKIE in request.COOKIES:
            return None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
        if match.view_name not in CACHED_VIEWS:
            return None
        session = request.session
        try:
            if "_messages" in session:
                return None
            user_id = session.get(SESSION_KEY)
        except DatabaseError:  # the view will meet it too, and answer 503
            return None
        version_keys = [SHARED_VERSION_KEY]
        if user_id is None:
            who = "anonymous"
        else:
            who = f"{user_id}:{session.get(HASH_SESSION_KEY, '')}"
            version_keys.append(_customer_version_key(user_id))
        parts = (who, translation.get_language(), timezone.localdate().isoformat(), request.get_full_path())
        digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
        return _Plan(key=f"pagecache:page:{digest}", version_keys=version_keys)

    # --- serving --------------------------------------------------------------------

    def _lookup(self, request, plan: _Plan):
        found = cache.get_many(plan.version_keys)
        versions = tuple(found.get(key) for key in plan.version_keys)
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

    def _store(self, response, plan: _Plan) -> None:
        body = response.content
        for name, pattern in _PATTERNS.items():
            for value in set(pattern.findall(body)):
                body = body.replace(value, _marker(name).encode())
        entry = {
            "body": body,
            "headers": list(response.headers.items()),
            "versions": plan.versions,
        }
        caches[PAGES_CACHE].set(plan.key, entry, settings.PAGE_CACHE_SECONDS)


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


def _shared_changed(sender, raw=False, **kwargs):
    if not raw:
        shared_changed()


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
