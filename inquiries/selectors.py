"""Reads of inquiries shared by the customer pages and the admin."""

from django.db.models import Count, Min, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse

from accounts.models import Message

from .models import Inquiry, InquiryMessage


def inquiry_list_for_customer(*, customer) -> QuerySet[Inquiry]:
    """The customer's inquiries, the latest activity (question or answer) first."""
    return (
        Inquiry.objects.filter(customer=customer)
        .select_related("service", "order")
        .annotate(last_activity=Greatest("last_customer_message_at", Coalesce("answered_at", "last_customer_message_at")))
        .order_by("-last_activity", "-id")
    )


def inquiry_get_for_customer(*, customer, pk) -> Inquiry:
    """One of the customer's inquiries; Inquiry.DoesNotExist for anyone else's."""
    return Inquiry.objects.select_related("service", "order").get(customer=customer, pk=pk)


def inquiry_messages(*, inquiry: Inquiry) -> QuerySet[InquiryMessage]:
    return InquiryMessage.objects.filter(inquiry=inquiry).order_by("created_at", "id")


def inquiry_unread_ids(*, customer) -> set[int]:
    """Ids of the customer's inquiries with an answer not read yet: the answer's notice in
    我的消息 links to the thread and is unread. One query, whatever the number of inquiries."""
    prefix = reverse("inquiries:list")
    links = Message.objects.filter(user=customer, read_at__isnull=True, link__startswith=prefix).values_list(
        "link", flat=True
    )
    ids = set()
    for link in links:
        tail = link[len(prefix) :].strip("/")
        if tail.isdigit():
            ids.add(int(tail))
    return ids


def inquiry_queue() -> dict:
    """Inquiries waiting for an answer: how many, and since when the oldest question waits
    (one query on the (status, last_customer_message_at) index)."""
    return Inquiry.objects.filter(status=Inquiry.Status.OPEN).aggregate(
        count=Count("pk"), oldest=Min("last_customer_message_at")
    )
