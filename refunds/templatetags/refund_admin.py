"""Template helpers of the refund admin: the finance queue on the admin index."""

from django import template
from django.db.models import Count, Min

from refunds.models import OPEN_STATUSES, RefundRequest

register = template.Library()


@register.simple_tag
def refund_queues() -> dict:
    """Refunds waiting for finance (pending or approved, not yet completed): how many, and
    since when the oldest was asked (one query on the (status, requested_at) index). The
    template shows it only to staff who may review or complete refunds."""
    waiting = RefundRequest.objects.filter(status__in=OPEN_STATUSES).aggregate(
        count=Count("pk"), oldest=Min("requested_at")
    )
    return {"waiting": waiting}
