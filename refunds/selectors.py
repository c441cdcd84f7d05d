"""Reads of refunds shared by the customer pages, the order pages and the admin."""

from collections.abc import Iterable

from django.db.models import QuerySet, prefetch_related_objects

from mall.progress import ProgressStep, progress_steps
from orders.models import Order

from .models import RefundRequest

R = RefundRequest.Status
# What refunds.services.refund_problem reads of an order, beyond the order itself.
REFUND_PROBLEM_LOOKUPS = ("lines__service__platform",)


def orders_prefetch_for_refund(orders: Iterable[Order]) -> None:
    """Loads what refund_problem reads for every order of `orders` at once (two queries
    for a whole page), so a list asking it per order stays at a constant query count."""
    prefetch_related_objects(list(orders), *REFUND_PROBLEM_LOOKUPS)


def refund_list_for_customer(*, customer) -> QuerySet[RefundRequest]:
    """The refunds of the customer's orders, newest first, with their order (one query)."""
    return RefundRequest.objects.filter(order__customer=customer).select_related("order")


def refund_list_for_order(*, order: Order) -> QuerySet[RefundRequest]:
    """The order's refunds, newest first."""
    return RefundRequest.objects.filter(order=order)


def refund_get_for_customer(*, customer, number: str) -> RefundRequest:
    """The customer's refund by number; RefundRequest.DoesNotExist for anyone else's."""
    return RefundRequest.objects.select_related("order").get(order__customer=customer, number=number)


def refund_progress(refund: RefundRequest) -> list[ProgressStep]:
    """The refund's way so far: 待审核 → 已同意 → 已退款, or 待审核 → 已拒绝, or
    待审核 → 已撤销; each step with when it happened."""
    if refund.status in (R.REJECTED, R.WITHDRAWN):
        path = [R.PENDING, refund.status]
    else:
        path = [R.PENDING, R.APPROVED, R.COMPLETED]
    dates = {
        R.PENDING: refund.requested_at,
        R.APPROVED: refund.decided_at,
        R.COMPLETED: refund.refunded_on,
        R.REJECTED: refund.decided_at,
        R.WITHDRAWN: refund.withdrawn_at,
    }
    return progress_steps(path, current=refund.status, labels=dict(R.choices), dates=dates)
