import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseNotAllowed
from django.middleware.locale import LocaleMiddleware
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)


class ShopLocaleMiddleware(LocaleMiddleware):
    """The shop speaks Chinese unless the visitor picked another language.

    Only the language switcher's cookie (and the session of set_language) can
    change it: a browser's Accept-Language does not, so an English-configured
    browser still lands on the Chinese shop the guide describes.
    """

    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        try:
            language = translation.get_supported_language_variant(chosen) if chosen else settings.LANGUAGE_CODE
        except LookupError:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class ProbeMiddleware:
    """Answers /healthz and /readyz first, before the host check and the https redirect.

    Load balancers and orchestrators probe the process directly, over plain http and
    by IP address: those requests must reach the checks, not get a 301 or a 400.
    """

    PATHS = {"/healthz", "/readyz"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info in self.PATHS:
            from . import views

            if request.method not in ("GET", "HEAD"):
                return HttpResponseNotAllowed(["GET", "HEAD"])
            return views.healthz(request) if request.path_info == "/healthz" else views.readyz(request)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A request that loses the database (PostgreSQL restarting, a failover) gets a 503
    with Retry-After instead of a 500.

    Nothing it wrote survives: every write runs in a transaction that the error rolled
    back, and the connection is dropped at the end of the request (CONN_HEALTH_CHECKS
    makes the next request open a new one). The page is standalone: base.html reads the
    database. Catches what views raise; a middleware's own database error stays a 500.
    """

    RETRY_AFTER_SECONDS = 5

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable, answered 503: %s %s: %s", request.method, request.path, exception)
        # Without the request: the context processors read the database too.
        page = render_to_string("503.html", {"retry_after": self.RETRY_AFTER_SECONDS, "path": request.get_full_path()})
        response = HttpResponse(page, status=503)
        response["Retry-After"] = str(self.RETRY_AFTER_SECONDS)
        add_never_cache_headers(response)
        return response
