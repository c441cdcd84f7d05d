from django.conf import settings
from django.http import HttpResponseNotAllowed
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


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
