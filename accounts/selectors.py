from django.db.models import QuerySet

from .models import Address, InvoiceProfile, Message, ProductKey


def product_key_list(*, user) -> QuerySet[ProductKey]:
    return ProductKey.objects.filter(user=user).select_related("product_line")


def product_key_line_ids(user) -> list[int]:
    """Ids of the product lines the user's saved keys belong to."""
    return list(ProductKey.objects.filter(user=user).values_list("product_line_id", flat=True).distinct())


def invoice_profile_list(*, user) -> QuerySet[InvoiceProfile]:
    """The user's invoice profiles, the default first, then the most recently updated."""
    return InvoiceProfile.objects.filter(user=user).order_by("-is_default", "-updated_at", "-id")


def invoice_profile_get(*, user, pk) -> InvoiceProfile:
    """One of the user's profiles; another user's is InvoiceProfile.DoesNotExist."""
    return InvoiceProfile.objects.get(user=user, pk=pk)


def address_list(*, user) -> QuerySet[Address]:
    """The user's mailing addresses, the default first, then the most recently updated."""
    return Address.objects.filter(user=user).order_by("-is_default", "-updated_at", "-id")


def address_get(*, user, pk) -> Address:
    """One of the user's addresses; another user's is Address.DoesNotExist."""
    return Address.objects.get(user=user, pk=pk)


def message_list(*, user) -> QuerySet[Message]:
    """The user's messages, newest first."""
    return Message.objects.filter(user=user).order_by("-created_at", "-id")


def message_get(*, user, pk) -> Message:
    """One of the user's messages; another user's is Message.DoesNotExist."""
    return Message.objects.get(user=user, pk=pk)


def message_unread_count(*, user) -> int:
    """One COUNT on the (user, read_at) index."""
    return Message.objects.filter(user=user, read_at__isnull=True).count()
