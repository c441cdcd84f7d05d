"""The page cache's middleware: serves the declared views' pages, and stores them.

A page is kept per visitor (each signed-in customer, or once for every anonymous
visitor), per language, full path (query string included), day (pages show "ends in N
days"), the session values the apps declare a page shows, and the values of the request
headers its response varies on; for at most PAGE_CACHE_SECONDS. It is stored with the
versions read *before* it was rendered and served only while they are unchanged
(versions.py). The pages live in each web process's own memory (the "pages" cache); a
signed-in hit costs one read from Redis (the session and the versions together), an
anonymous one nothing.

Never stored: anything but a plain 200 to a GET; a response that sets a cookie (the CSRF
cookie included: the cache makes it again on each hit, and a rendered page sets it only
when a token reached the page other than through a placeholder), marks itself private,
no-store or no-cache, varies on every header (Vary: *), changed the session, showed a
flash message, or has the visitor's CSRF secret or session key in its body. Never served
from the cache: requests that carry a flash message, htmx requests.
"""

import hashlib
import re
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache, caches
from django.db import DatabaseError
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import Resolver404, resolve
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers

from . import contract, django_internals, tokens, versions
from .versions import SHARED_VERSION_KEY, customer_version_key

PAGES_CACHE = "pages"  # the CACHES alias of the pages: per process, in memory
# Request headers a response may vary on that the key covers already: the visitor (the
# session cookie) and the session values shown are in the key, the CSRF cookie's token is
# a placeholder filled in per response, the language (cookie or header) is in the key.
COVERED_BY_THE_KEY = frozenset({"cookie", "accept-language"})
NOT_STORED_CACHE_CONTROL = frozenset({"private", "no-store", "no-cache"})
REMEMBERED_AT_MOST = 10_000
COMMAS = re.compile(r"\s*,\s*")

# Per process: view name of each path seen (the URLconf does not change while a process
# runs), request headers each view's responses were seen to vary on, and the user id of
# each session key seen (for those the session and the versions are read in one go).
_view_names: dict[str, str | None] = {}
_vary_seen: dict[str, frozenset] = {}
_session_users: dict[str, str] = {}


def forget() -> None:
    _view_names.clear()
    _vary_seen.clear()
    _session_users.clear()


def _remember(memo: dict, key, value) -> None:
    if len(memo) >= REMEMBERED_AT_MOST:
        memo.clear()
    memo[key] = value


def _view_name(path: str) -> str | None:
    try:
        return _view_names[path]
    except KeyError:
        pass
    try:
        name = resolve(path).view_name
    except Resolver404:
        name = None
    _remember(_view_names, path, name)
    return name


@dataclass
class _Plan:
    view: str
    parts: tuple  # what the key is made of, but the varying headers
    version_keys: list[str]
    found: dict | None = None  # versions already read from the cache with the session
    versions: tuple | None = None  # what to store the page under; None: do not store
    entry: dict | None = None  # the page found
    key: str = field(init=False, default="")

    def key_for(self, request, vary: frozenset) -> str:
        headers = [f"{name}={request.headers.get(name, '')}" for name in sorted(vary)]
        digest = hashlib.sha256("\n".join((*self.parts, *headers)).encode()).hexdigest()
        return f"pagecache:page:{digest}"


class PageCacheMiddleware:
    """Serves the declared views' pages from the cache, and stores them (see the module).

    Placed after the session and locale middleware (it needs the signed-in user's id and
    the language) and before the rest, so a hit skips them.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        # The tokens of a page are filled in here, above the CSRF middleware's place in
        # MIDDLEWARE. A copy of it runs around the filling, as middleware does: it reads
        # the visitor's CSRF cookie before, and sets the cookie the new token belongs to
        # after (django.utils.deprecation.MiddlewareMixin: process_request, the call,
        # process_response).
        self.serve_hit = CsrfViewMiddleware(self._serve_hit)
        self.render = CsrfViewMiddleware(self._render)

    def __call__(self, request):
        plan = self._plan(request)
        if plan is None:
            return self.get_response(request)
        request._page_cache_plan = plan
        plan.entry = self._lookup(request, plan)
        if plan.entry is not None:
            return self.serve_hit(request)
        tokens.expect_placeholders(request)
        return self.render(request)

    # --- deciding -------------------------------------------------------------------

    def _plan(self, request) -> _Plan | None:
        if not versions.enabled() or request.method not in ("GET", "HEAD"):
            return None
        if request.headers.get("HX-Request"):
            return None
        view = _view_name(request.path_info)
        if view not in contract.current().views:
            return None
        request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware would check it: DisallowedHost is a 400
        versions.bump_pending()  # inside a transaction (tests): its changes so far count
        prefetched = self._session_and_versions(request)
        if prefetched is not None:
            session, found = prefetched
        else:
            session, found = request.session, None
        try:
            if django_internals.carries_messages(request, session):
                return None
            user_id = django_internals.session_user_id(session)
            auth_hash = django_internals.session_auth_hash(session)
            shown = [str(session.get(name, "")) for name in contract.current().session_values]
        except DatabaseError:  # the view will meet it too, and answer 503
            return None
        version_keys = [SHARED_VERSION_KEY]
        if user_id is None:
            who = "anonymous"
        else:
            who = f"{user_id}:{auth_hash}"
            version_keys.append(customer_version_key(user_id))
            if prefetched is None and request.session.session_key:
                if django_internals.cached_session_key(request.session.session_key) is not None:
                    _remember(_session_users, request.session.session_key, str(user_id))
        parts = (who, *shown, translation.get_language(), timezone.localdate().isoformat(), request.get_full_path())
        plan = _Plan(view=view, parts=parts, version_keys=version_keys, found=found)
        plan.key = plan.key_for(request, _vary_seen.get(view, frozenset()))
        return plan

    @staticmethod
    def _session_and_versions(request) -> tuple[dict, dict] | None:
        """A signed-in visitor's session data and page versions in one read from Redis,
        when the session is one this process has seen and sessions live in the same cache
        (cached_db): (session data, versions found), or None to take the usual path."""
        session_key = request.session.session_key
        user_id = _session_users.get(session_key) if session_key else None
        if user_id is None or settings.SESSION_CACHE_ALIAS != "default":
            return None
        store_key = django_internals.cached_session_key(session_key)
        if store_key is None:
            return None
        keys = [store_key, customer_version_key(user_id)]
        if versions.shared_version_known() is None:
            keys.append(SHARED_VERSION_KEY)
        found = cache.get_many(keys)
        data = found.pop(store_key, None)
        if not isinstance(data, dict) or str(django_internals.session_user_id(data)) != user_id:
            return None  # signed out, expired, or not in the cache: the session store decides
        return data, found

    # --- serving --------------------------------------------------------------------

    def _lookup(self, request, plan: _Plan) -> dict | None:
        shared = versions.shared_version_known()
        if plan.found is not None:
            found = plan.found
        else:
            wanted = plan.version_keys[1:] if shared is not None else plan.version_keys
            found = cache.get_many(wanted) if wanted else {}
        if shared is None:
            versions.shared_version_remember(shared := found.get(SHARED_VERSION_KEY))
        current = (shared, *(found.get(key) for key in plan.version_keys[1:]))
        entry = caches[PAGES_CACHE].get(plan.key) if None not in current else None
        if entry is not None and entry["versions"] == current:
            return entry
        plan.versions = self._versions_for_store(plan, current)
        return None

    @staticmethod
    def _versions_for_store(plan: _Plan, current: tuple) -> tuple | None:
        """The versions to store this page under: the current ones, created when missing
        (first use, or evicted). None when the cache cannot keep them."""
        if None not in current:
            return current
        for key, version in zip(plan.version_keys, current):
            if version is None:
                cache.add(key, uuid.uuid4().hex, None)
        current = tuple(cache.get_many(plan.version_keys).get(key) for key in plan.version_keys)
        return None if None in current else current

    def _serve_hit(self, request) -> HttpResponse:
        entry = request._page_cache_plan.entry
        body = tokens.fill(request, entry["body"], entry["placeholders"])
        response = HttpResponse(body)
        for header, value in entry["headers"]:
            response.headers[header] = value
        response.headers["Content-Length"] = str(len(body))  # the new values may differ in length
        patch_vary_headers(response, ("Cookie",))  # also when the session was read here, not by Django
        return response

    def _render(self, request):
        response = self.get_response(request)
        plan = request._page_cache_plan
        placeholders = tokens.used(request)
        if plan.versions is not None and self._storable(request, response):
            self._store(request, response, plan, placeholders)
        if placeholders and not response.streaming:
            response.content = tokens.fill(request, response.content, placeholders)
            if response.has_header("Content-Length"):
                response.headers["Content-Length"] = str(len(response.content))
        return response

    # --- storing --------------------------------------------------------------------

    def _storable(self, request, response) -> bool:
        if response.status_code != 200 or response.streaming or request.method != "GET":
            return False
        if response.cookies:
            return False
        directives = {part.split("=")[0].strip().lower() for part in COMMAS.split(response.get("Cache-Control", ""))}
        if directives & NOT_STORED_CACHE_CONTROL:
            return False
        if "*" in _vary(response):
            return False
        if request.session.modified:
            return False
        storage = get_messages(request)
        if getattr(storage, "used", False) or len(storage):
            return False
        user = getattr(request, "user", None)
        user_id = str(user.pk) if user is not None and user.is_authenticated else None
        session_user = django_internals.session_user_id(request.session)
        if user_id != (str(session_user) if session_user is not None else None):
            return False
        return not self._shows_secrets(request, response.content)

    @staticmethod
    def _shows_secrets(request, body: bytes) -> bool:
        """The visitor's CSRF secret (as the CSRF middleware read it, and as their cookie
        has it) or session key is in `body`: a template printed it other than through a
        placeholder."""
        secrets = (
            request.META.get("CSRF_COOKIE"),
            request.COOKIES.get(settings.CSRF_COOKIE_NAME),
            request.session.session_key,
        )
        return any(secret and secret.encode() in body for secret in secrets)

    def _store(self, request, response, plan: _Plan, placeholders: dict) -> None:
        seconds = settings.PAGE_CACHE_SECONDS
        expires = getattr(request, "_page_cache_expires", None)
        if expires is not None:
            seconds = min(seconds, (expires - timezone.now()).total_seconds())
            if seconds <= 0:
                return
        vary = _vary(response) - COVERED_BY_THE_KEY
        key = plan.key
        seen = _vary_seen.get(plan.view, frozenset())
        if not vary <= seen:
            # From now on this view's pages are keyed by these headers' values too.
            seen = seen | vary
            _remember(_vary_seen, plan.view, seen)
            key = plan.key_for(request, seen)
        entry = {
            "body": response.content,
            "placeholders": placeholders,
            "headers": [(name, value) for name, value in response.headers.items() if name.lower() != "content-length"],
            "versions": plan.versions,
        }
        caches[PAGES_CACHE].set(key, entry, seconds)


def _vary(response) -> frozenset:
    return frozenset(name.strip().lower() for name in COMMAS.split(response.get("Vary", "")) if name.strip())


class BumpOnWriteMiddleware:
    """Every request other than GET/HEAD/OPTIONS by a signed-in customer marks their
    pages stale: a safety net under the signals and the bumping queryset."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in ("GET", "HEAD", "OPTIONS") and versions.enabled():
            try:
                user_id = django_internals.session_user_id(request.session)
            except DatabaseError:  # the request failed on the database, and wrote nothing
                return response
            if user_id is not None:
                versions.bump([customer_version_key(user_id)])
        return response
