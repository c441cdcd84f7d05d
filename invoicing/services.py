"""Invoices and e-contracts. The invoicing issue builds them; for now only the hook exists."""

import logging

logger = logging.getLogger(__name__)


def order_documents_request(*, order_id: int) -> None:
    """Called once after an order's receipt is confirmed and committed
    (settings.ORDER_DOCUMENTS_HOOK): the invoice and the signed contract are produced
    from here. Until the invoicing app lands this only records the request."""
    logger.info("documents requested for order %s", order_id)
