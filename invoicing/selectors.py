"""Reads of invoices and contracts shared by the customer pages, the admin and tasks."""

from django.db.models import Count, Min, QuerySet

from mall.progress import ProgressStep, progress_steps

from .models import Contract, Invoice

S = Invoice.Status


def invoice_list_for_customer(*, customer) -> QuerySet[Invoice]:
    """The customer's invoices, newest first, with their order (one query)."""
    return Invoice.objects.filter(order__customer=customer).select_related("order").order_by("-created_at", "-id")


def invoice_list_for_order(*, order) -> list[tuple[Invoice, list[ProgressStep]]]:
    """发票信息 of one order: each invoice (newest first: a re-issue or a red-letter
    invoice above the one it follows) with its progress. One query."""
    return [(invoice, invoice_progress(invoice)) for invoice in order.invoices.all()]


def invoice_progress(invoice: Invoice) -> list[ProgressStep]:
    """The invoice's way so far: 待开票 → 已开票 → 已寄出; 待开票 → 已作废 (refunded before
    it was issued); or 待开票 → 已开票 (→ 已寄出) → 已红冲 (refunded after), each step
    with its date. A voided or reversed invoice is not changed afterwards, so its last
    update is when that happened."""
    if invoice.status == S.CANCELLED:
        path = [S.PENDING, S.CANCELLED]
    elif invoice.status == S.REVERSED:
        path = [S.PENDING, S.ISSUED, *([S.DELIVERED] if invoice.delivered_at else []), S.REVERSED]
    else:
        path = [S.PENDING, S.ISSUED, S.DELIVERED]
    dates = {
        S.PENDING: invoice.created_at,
        S.ISSUED: invoice.issued_on,
        S.DELIVERED: invoice.delivered_at,
        S.CANCELLED: invoice.updated_at,
        S.REVERSED: invoice.updated_at,
    }
    return progress_steps(path, current=invoice.status, labels=dict(S.choices), dates=dates)


def invoice_get_for_customer(*, customer, pk: int) -> Invoice:
    """Invoice.DoesNotExist for anyone else's invoice."""
    return Invoice.objects.select_related("order").get(order__customer=customer, pk=pk)


def contract_get_for_customer(*, customer, number: str) -> Contract:
    """The contract of the customer's order `number`; Contract.DoesNotExist otherwise."""
    return Contract.objects.select_related("order").get(order__customer=customer, order__number=number)


def contract_get_by_token(*, token: str) -> Contract:
    return Contract.objects.select_related("order").get(token=token)


def invoice_queue() -> dict:
    """Invoices waiting for finance: how many, and since when (one query)."""
    return Invoice.objects.filter(status=Invoice.Status.PENDING).aggregate(count=Count("pk"), oldest=Min("created_at"))
