"""Celery tasks: thin wrappers around invoicing.services.

Both run with acks_late and reject_on_worker_lost (settings): a worker that dies
mid-task leaves the message to be delivered again, and the services make a rerun
harmless.
"""

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)

RETRY_DELAYS = (10, 60, 300)  # seconds before the 2nd, 3rd and 4th try


@shared_task(bind=True, max_retries=len(RETRY_DELAYS), acks_late=True, reject_on_worker_lost=True)
def order_documents_task(self, order_id):
    """The invoice and signed contract of a confirmed order. Failures are retried with
    backoff; after the last one the job shows as failed in the admin (and the sweeper
    tries again later). In-process (no REDIS_URL) it runs once: the sweeper retries."""
    try:
        services.documents_generate(order_id=order_id)
    except Exception as error:
        final = self.request.is_eager or self.request.retries >= self.max_retries
        services.documents_attempt_failed(order_id=order_id, error=error, final=final)
        if final:
            logger.exception("documents of order %s failed for good after %s tries", order_id, self.request.retries + 1)
            return
        raise self.retry(exc=error, countdown=RETRY_DELAYS[self.request.retries]) from error


@shared_task(bind=True, max_retries=len(RETRY_DELAYS), acks_late=True, reject_on_worker_lost=True)
def invoice_sheet_task(self, invoice_id):
    """The sheet of a re-issued or red-letter invoice (after a refund)."""
    try:
        services.invoice_sheet_ensure(invoice_id=invoice_id)
    except Exception as error:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            logger.exception("sheet of invoice %s failed; the sweeper retries", invoice_id)
            return
        raise self.retry(exc=error, countdown=RETRY_DELAYS[self.request.retries]) from error


@shared_task(acks_late=True)
def documents_sweep_task():
    """Beat, every minute: re-send documents still missing after a while."""
    sent = services.documents_sweep()
    if sent:
        logger.warning("documents sweeper re-sent %s orders: %s", len(sent), sent[:20])
    return len(sent)
