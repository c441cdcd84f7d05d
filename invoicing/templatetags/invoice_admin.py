"""Template helpers of the invoice admin: the finance queue on the admin index."""

from django import template

from invoicing.selectors import invoice_queue

register = template.Library()


@register.simple_tag
def invoice_queues() -> dict:
    """The admin index's invoice queue (one query); the template shows it only to staff
    who may view invoices."""
    return {"issue": invoice_queue()}
