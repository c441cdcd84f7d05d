"""Celery tasks shared by every app (thin wrappers: load, call, retry)."""

import logging
from smtplib import SMTPException

from celery import shared_task

from .email import email_render, email_send

logger = logging.getLogger(__name__)


# The name it had in accounts/tasks.py: messages already queued under it (during a deploy)
# still find this task.
@shared_task(bind=True, max_retries=6, name="accounts.tasks.email_send_task")
def email_send_task(self, *, subject, body, to, html_body=None, from_email=None, cc=None):
    """Send an email outside the request; a flaky mail server is retried with backoff.

    In-process (no REDIS_URL) a retry would run at once, inside the request, with no
    backoff: there a failure is logged and the request goes on.
    """
    _send(self, subject=subject, body=body, to=to, html_body=html_body, from_email=from_email, cc=cc)


@shared_task(bind=True, max_retries=6)
def email_render_send_task(self, *, template, versions, context, to, cc=None):
    """A notice in both languages, rendered here from plain values (mall.email.email_render)
    rather than in the request, then sent as email_send_task sends."""
    _send(self, to=to, cc=cc, **email_render(template=template, versions=versions, context=context))


def _send(task, **email):
    try:
        email_send(**email)
    except (SMTPException, OSError) as error:
        if task.request.is_eager:
            logger.exception("email to %s not sent (in-process mode sends once)", email["to"])
            return
        raise task.retry(exc=error, countdown=min(600, 2 ** (task.request.retries + 1))) from error
