from django.db.models import QuerySet

from .models import ProductKey


def product_key_list(*, user) -> QuerySet[ProductKey]:
    return ProductKey.objects.filter(user=user).select_related("product_line")


def product_key_line_ids(user) -> list[int]:
    """Ids of the product lines the user's saved keys belong to."""
    return list(ProductKey.objects.filter(user=user).values_list("product_line_id", flat=True).distinct())
