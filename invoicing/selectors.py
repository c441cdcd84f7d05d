"""Reads of invoices and contracts shared by the customer pages, the admin and tasks."""

from django.db.models import Count, Min, QuerySet

from .models import Contract, Invoice


def invoice_list_for_customer(*, customer) -> QuerySet[Invoice]:
    """The customer's invoices, newest first, with their order (one query)."""
    return Invoice.objects.filter(order__customer=customer).select_related("order").order_by("-created_at", "-id")


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
