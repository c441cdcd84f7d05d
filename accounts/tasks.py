from smtplib import SMTPException

from celery import shared_task

from . import services


@shared_task(
    autoretry_for=(SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=6,
)
def email_send_task(*, subject, body, to, html_body=None, from_email=None):
    """Send an email outside the request; a flaky mail server is retried with backoff."""
    services.email_send(subject=subject, body=body, to=to, html_body=html_body, from_email=from_email)
