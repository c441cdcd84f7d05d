"""Production: every secret comes from the environment; passes `check --deploy`.

Runs behind a TLS-terminating proxy that sets X-Forwarded-Proto.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # no default: refuse to start without one
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
# No script of the shop reads the token from the cookie (forms carry it), so hide it from scripts.
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

# Local scans and benchmarks only (`make scan`): the production stack served over plain
# http on the loopback interface, without the https redirect, HSTS or Secure cookies (a
# client would not send those back over http). Only loopback host names are accepted, so
# a real deployment cannot run with it; `check --deploy` then warns about each of them.
LOCAL_PLAIN_HTTP = env.bool("LOCAL_PLAIN_HTTP", default=False)
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}
if LOCAL_PLAIN_HTTP:
    if not ALLOWED_HOSTS or set(ALLOWED_HOSTS) - LOOPBACK_HOSTS:
        raise ImproperlyConfigured(
            "LOCAL_PLAIN_HTTP is for local scans and benchmarks only: DJANGO_ALLOWED_HOSTS must name "
            f"nothing but {', '.join(sorted(LOOPBACK_HOSTS))}, not {', '.join(ALLOWED_HOSTS) or 'nothing'}"
        )
    SECURE_SSL_REDIRECT = False
    SECURE_HSTS_SECONDS = 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = False
    SECURE_HSTS_PRELOAD = False
    SESSION_COOKIE_SECURE = False
    CSRF_COOKIE_SECURE = False
    LANGUAGE_COOKIE_SECURE = False

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "documents": DOCUMENTS_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
