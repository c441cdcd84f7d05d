"""pytest's settings (pytest.ini passes --ds=mall.settings.test)."""

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-not-secret"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Each test process keeps its own cache; the redis tier talks to Redis itself.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pages"},
}
# The page cache is on, so every view test also tests its invalidation. A server a test
# starts in another process has its own cache: it must run with PAGE_CACHE_SECONDS=0
# (or point CACHES at a shared Redis).
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=300)  # noqa: F405
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "documents": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The embedded default (no REDIS_URL): tasks run in-process once the transaction
# commits. The redis tier points the Celery app at Redis and starts a real worker.
CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_ALWAYS_EAGER = True
# WhiteNoise looks for STATIC_ROOT at start-up; tests serve from the finders. It finds a
# file when it is asked for, instead of reading every static file's details each time a
# middleware chain is built: once per test Client (~60 ms of ~65 ms a request of a new
# client on a slow machine; thousands of clients a pass). Production keeps the scan.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
