import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mall.settings.local")

app = Celery("mall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue_on_commit(task, **kwargs) -> None:
    """Send `task` to a worker once the current transaction commits, like delay_on_commit,
    but a broker that cannot be reached (Redis down) does not turn the request that
    already committed into an error: the task then runs here, in this process, once
    (its own failure handling applies), and a warning is logged."""
    from django.db import transaction

    transaction.on_commit(lambda: enqueue(task, **kwargs))


def enqueue(task, **kwargs) -> None:
    import logging

    try:
        task.apply_async(kwargs=kwargs, retry=False)
    except Exception:  # kombu's OperationalError, socket errors: the broker is unreachable
        logging.getLogger(__name__).warning("broker unreachable: %s runs in this process", task.name, exc_info=True)
        task.apply(kwargs=kwargs)
