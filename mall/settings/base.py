"""Settings shared by every environment. Values come from the environment (12-factor);
every variable read here is listed in .env.example."""

import os
import re
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from mall.storage import documents_storage_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A developer's .env overrides nothing that the real environment sets.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "csp",
    "axes",
    "django_ratelimit",
    "accounts",
    "catalog",
    "orders",
    "invoicing",
    "refunds",
    "inquiries",
    "mall",  # after the apps whose models the page cache watches (mall/pagecache/)
]

MIDDLEWARE = [
    "mall.middleware.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (the admin's is looser: mall/csp.py).
    "mall.csp.ShopCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "mall.middleware.ShopLocaleMiddleware",
    # Serves the busiest pages from the cache; needs the session and the language,
    # and a hit skips everything below (mall/pagecache/middleware.py).
    "mall.pagecache.PageCacheMiddleware",
    # A view that loses the database answers 503 + Retry-After, in the visitor's language.
    "mall.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mall.pagecache.BumpOnWriteMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (django-csp): only the shop's own scripts, styles and images
# (plus data: images, which Bootstrap's CSS uses); no inline script or style, no
# plugins, no framing. mall/csp.py gives the admin the inline styles its templates need.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

ROOT_URLCONF = "mall.urls"
WSGI_APPLICATION = "mall.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # Its {% csrf_token %} replaces Django's: on a page the page cache keeps, the
            # token is a placeholder filled in per response (mall/pagecache/tokens.py).
            "builtins": ["mall.templatetags.pagecache"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mall.context_processors.shop",
                "mall.context_processors.unread_messages",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL names another one.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers take SQLite's one write lock when their transaction begins and wait for it
    # (up to `timeout` s), instead of failing with "database is locked" when a second
    # process (a worker, another gunicorn process) or thread wrote first.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "catalog:service-list"
LOGOUT_REDIRECT_URL = "catalog:home"

# django-axes: five failures lock that username from that IP address.
AXES_FAILURE_LIMIT = 5
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.axes.axes_username"  # cut to axes' 255 characters
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
# The client's address (lock-outs, the agreement's acceptance): behind N trusted proxies
# it is read from X-Forwarded-For (django-ipware); with none, a client-sent
# X-Forwarded-For is ignored, or anyone could dodge the lock-out by rotating it.
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

LANGUAGE_CODE = "zh-hans"
LANGUAGE_COOKIE_AGE = 60 * 60 * 24 * 365  # the visitor's choice outlives the browser session
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
MEDIA_URL = "media/"  # never served directly: documents go through views that check ownership
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Invoices, contracts and remittance slips: private files (no base URL), served by
# views that check ownership. One machine: MEDIA_ROOT/documents. Several machines: an
# S3-compatible bucket shared by all (DOCUMENTS_S3_BUCKET; mall/storage.py).
DOCUMENTS_STORAGE = documents_storage_config(os.environ, directory=MEDIA_ROOT / "documents")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "documents": DOCUMENTS_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Redis: the Celery broker and the shared cache. Unset, tasks run in-process
# after the transaction commits and the cache is per process. The cache fails open
# (mall/cache.py): while Redis is unreachable every read is a miss, never an error.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "mall.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The page cache's pages (mall/pagecache/): each web process keeps its own, in memory;
# what invalidates them (the versions) lives in the shared cache above.
CACHES["pages"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "pages",
    "OPTIONS": {"MAX_ENTRIES": env.int("PAGE_CACHE_MAX_ENTRIES", default=2000)},
}
# Sessions are read from the cache and written through to the database, but only when
# the cache is shared: with per-process caches a sign-out in one process would leave
# the session alive in the others.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db" if REDIS_URL else "django.contrib.sessions.backends.db"
# Seconds a page the apps declare cached is kept (docs/page-cache.md); 0 turns the page
# cache off, and with it the catalogue's cached fragments and reads.
# On by default only with a shared cache (the versions that invalidate pages must be
# seen by every web and worker process).
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=300 if REDIS_URL else 0)

# Rate limits (django-ratelimit, mall/ratelimit.py): POSTs per client IP (sign-in,
# registration) or per signed-in customer (checkout, remittance slips), as
# "count/period", period s, m, h or d with an optional multiple: "30/5m" is 30 per 5
# minutes. Over the limit: 429, nothing done. The counters live in the default cache.
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATE_LIMITS = {
    "sign-in": env.str("RATELIMIT_SIGN_IN", default="30/5m"),
    "register": env.str("RATELIMIT_REGISTER", default="10/h"),
    "checkout": env.str("RATELIMIT_CHECKOUT", default="30/10m"),
    "upload": env.str("RATELIMIT_UPLOAD", default="10/10m"),
}
for _name, _rate in RATE_LIMITS.items():
    # A typo would otherwise surface as a 500 on the first POST.
    if not re.fullmatch(r"[1-9]\d*/([1-9]\d*)?[smhd]", _rate):
        raise ImproperlyConfigured(f"rate limit {_name}: {_rate!r} is not count/period, e.g. 30/5m")
RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = "mall.ratelimit.client_ip"
# Cache unreachable: no limit, rather than refusing every sign-in and checkout.
RATELIMIT_FAIL_OPEN = True
# django-ratelimit's checks know only memcached and django-redis. W001: Django's own
# RedisCache (mall.cache) is as good: add() is SET NX with the expiry and incr() is Redis
# INCRBY, atomic for every process sharing the Redis. E003: without REDIS_URL the cache
# is LocMemCache, per process; exact under `make run` (one process); with several
# gunicorn workers and no Redis each worker counts alone (a client gets up to
# workers x the limit), which is why production sets REDIS_URL.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001", "django_ratelimit.E003"]

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# In-process tasks behave like a worker's: retried, and a final failure is logged,
# never raised into the request that enqueued them.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# Publishing to a stopped Redis must fail fast instead of hanging a request. kombu
# reads max_retries here as the retries of (re)connecting a publisher's connection,
# sleeping 2 s, then 4 s, ... between them: 2 made every publish to a stopped Redis
# take 6 s, and a 确认收货 publishes two or three tasks (18 s measured under traffic).
# 0: one attempt, a refused connection fails in milliseconds; the request then goes on
# (mall.celery.enqueue runs the task here, the documents wait for the sweeper). The
# worker's own consuming connection is not affected: it retries with
# broker_connection_max_retries, passed explicitly. A Redis that accepts connections and
# never answers costs a publish socket_timeout; mall.celery then leaves the broker alone
# for PUBLISH_PAUSE_SECONDS, so a request waits for it once, not once per task.
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": 3,
    "socket_connect_timeout": 3,
    "max_retries": 0,
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Seconds before an unanswering mail server counts as a failure (the task retries).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="云市场 <noreply@cloudmall.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The seller: shown in the footer and help page, printed on invoices and contracts.
SELLER = {
    "name": env.str("SELLER_NAME", default="上海百胜软件股份有限公司"),
    "taxpayer_id": env.str("SELLER_TAXPAYER_ID", default="91310000134511148L"),
    "address": env.str("SELLER_ADDRESS", default="上海市闵行区号景路206弄万象企业中心"),
    "phone": env.str("SELLER_PHONE", default="021-00000000"),
    "bank": env.str("SELLER_BANK", default="招商银行上海分行"),
    "bank_account": env.str("SELLER_BANK_ACCOUNT", default="0000 0000 0000 0000"),
    "hotline": env.str("SELLER_HOTLINE", default="400-000-0000"),
    "online_service_url": env.str("SELLER_ONLINE_SERVICE_URL", default="https://cloudmall.example/help/online"),
    "duty_mobile": env.str("SELLER_DUTY_MOBILE", default="138-0000-0000"),
    "seal_filing_number": env.str("SELLER_SEAL_FILING_NUMBER", default="DEV-SEAL-0000"),
}

# The seller's document-signing key and certificate (PEM file paths) for contracts.
# Unset: a self-signed development pair is created under var/signing/ on first use.
SIGNING_KEY = env.str("SIGNING_KEY", default="")
SIGNING_CERT = env.str("SIGNING_CERT", default="")
SIGNING_KEY_PASSPHRASE = env.str("SIGNING_KEY_PASSPHRASE", default="")

ADMIN_URL = env.str("ADMIN_URL", default="admin/")
# The shop's public address, for links in emails sent outside a request.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Called with order= inside the transaction that confirms a receipt (invoice and contract).
ORDER_DOCUMENTS_HOOK = "invoicing.services.order_documents_request"
# Documents not produced this many minutes after the request are sent to a worker again
# by the sweeper (beat, every minute), up to DOCUMENTS_MAX_ATTEMPTS runs in all.
DOCUMENTS_SWEEP_AFTER_MINUTES = env.int("DOCUMENTS_SWEEP_AFTER_MINUTES", default=10)
DOCUMENTS_MAX_ATTEMPTS = env.int("DOCUMENTS_MAX_ATTEMPTS", default=10)
# Printed on invoice lines as *category*service name, with the tax classification code,
# for services that do not set their own.
INVOICE_TAX_CATEGORY = env.str("INVOICE_TAX_CATEGORY", default="软件服务")
INVOICE_TAX_CODE = env.str("INVOICE_TAX_CODE", default="3040201000000000000")

# Days after approval when the system confirms receipt of an order still in trade.
ORDER_AUTO_CONFIRM_DAYS = env.int("ORDER_AUTO_CONFIRM_DAYS", default=15)

# Days an order may wait for review, or stay rejected, before the system closes it.
ORDER_EXPIRE_DAYS = env.int("ORDER_EXPIRE_DAYS", default=30)
# 到期提醒: days before a line's service ends when its reminder goes out.
REMINDER_DAYS = env.list("REMINDER_DAYS", cast=int, default=[30, 7, 1])
# SMS for reminders: a dotted path to a backend; the default writes to the log. The HTTP
# gateway backend posts to SMS_GATEWAY_URL with SMS_GATEWAY_KEY.
SMS_BACKEND = env.str("SMS_BACKEND", default="orders.sms.LogBackend")
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
SMS_GATEWAY_KEY = env.str("SMS_GATEWAY_KEY", default="")

# Scheduled jobs (celery beat; each is also a management command for the embedded default).
CELERY_BEAT_SCHEDULE = {
    "documents-sweep": {"task": "invoicing.tasks.documents_sweep_task", "schedule": 60.0},
    "confirm-due-orders": {"task": "orders.tasks.orders_confirm_due_task", "schedule": 3600.0},
    "expire-due-orders": {"task": "orders.tasks.orders_expire_due_task", "schedule": 3600.0},
    "expiry-reminders": {"task": "orders.tasks.reminders_send_task", "schedule": crontab(hour=9, minute=0)},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs each rendering step at INFO, and fontTools each subset.
    "loggers": {
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
