"""The `make run` default: a developer's machine, SQLite, in-process tasks."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-not-secret-cloud-mall-local")
WHITENOISE_USE_FINDERS = True  # serve static/ directly, no collectstatic needed
if not REDIS_URL:
    # Tasks run in this process (no broker): Celery would log every run at INFO in the
    # development server's terminal, among the requests. Failures are still logged.
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}
