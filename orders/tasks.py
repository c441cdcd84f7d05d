"""Celery tasks of the orders app: thin wrappers around orders.services and orders.reminders."""

import logging

from celery import shared_task

from . import reminders, services, sms

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def orders_confirm_due_task():
    """Beat, hourly: confirm receipt of orders in trade past ORDER_AUTO_CONFIRM_DAYS."""
    confirmed = services.orders_confirm_due()
    if confirmed:
        logger.info("confirmed receipt of %s orders automatically", len(confirmed))
    return len(confirmed)


@shared_task(acks_late=True)
def orders_expire_due_task():
    """Beat, hourly: close orders left awaiting review or rejected past ORDER_EXPIRE_DAYS."""
    expired = services.orders_expire_due()
    if expired:
        logger.info("expired %s orders", len(expired))
    return len(expired)


@shared_task(acks_late=True)
def reminders_send_task():
    """Beat, daily: the expiry reminders due today (a rerun sends only what is missing)."""
    sent = reminders.reminders_send()
    if sent:
        logger.info("sent %s expiry reminders", len(sent))
    return len(sent)


@shared_task(bind=True, max_retries=6)
def sms_send_task(self, *, mobile, text):
    """Send one SMS through settings.SMS_BACKEND; a failing gateway is retried with backoff.

    In-process (no REDIS_URL) a retry would run at once, inside the job: there a failure
    is logged and the job goes on.
    """
    try:
        sms.sms_send(mobile=mobile, text=text)
    except (sms.SmsError, OSError) as error:
        if self.request.is_eager:
            logger.exception("SMS to %s not sent (in-process mode sends once)", mobile)
            return
        raise self.retry(exc=error, countdown=min(600, 2 ** (self.request.retries + 1))) from error
