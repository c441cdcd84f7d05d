"""Celery tasks of the orders app: thin wrappers around orders.services."""

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def orders_confirm_due_task():
    """Beat, hourly: confirm receipt of orders in trade past ORDER_AUTO_CONFIRM_DAYS."""
    confirmed = services.orders_confirm_due()
    if confirmed:
        logger.info("confirmed receipt of %s orders automatically", len(confirmed))
    return len(confirmed)
