"""Reads of the catalog shared by views, admin and later the order pages."""

import re
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from .exceptions import MalformedProductKey, UnknownProductKey
from .models import Module, Platform, ProductLine, Service

PRODUCT_KEY_FORMAT = re.compile(r"[A-Z0-9][A-Z0-9+\-]{3,63}")
SEARCH_TERMS_MAX = 8


@dataclass(frozen=True)
class ServiceFilters:
    q: str = ""
    product_line: ProductLine | None = None
    platform: Platform | None = None
    module: Module | None = None


def service_list(*, filters: ServiceFilters | None = None) -> QuerySet[Service]:
    """Services on sale matching the filters, with their line, platform and module joined in."""
    filters = filters or ServiceFilters()
    services = Service.objects.on_sale().select_related("product_line", "platform", "module")
    if filters.product_line:
        services = services.filter(product_line=filters.product_line)
    if filters.platform:
        services = services.filter(platform=filters.platform)
    if filters.module:
        services = services.filter(module=filters.module)
    for term in filters.q.split()[:SEARCH_TERMS_MAX]:
        services = services.filter(
            Q(name__icontains=term)
            | Q(product_line__name__icontains=term)
            | Q(platform__name__icontains=term)
            | Q(module__name__icontains=term)
        )
    return services


def service_list_featured(*, limit: int = 8) -> QuerySet[Service]:
    return service_list().filter(featured=True)[:limit]


def service_get_on_sale(*, pk: int) -> Service:
    """The service if a customer may see it; raises Service.DoesNotExist otherwise."""
    return service_list().get(pk=pk)


def _on_sale_for(**lookups) -> Exists:
    return Exists(Service.objects.on_sale().filter(**lookups))


def product_line_list() -> QuerySet[ProductLine]:
    """Active product lines that have at least one service on sale."""
    return ProductLine.objects.filter(active=True).filter(_on_sale_for(product_line=OuterRef("pk")))


def platform_list(*, product_line: ProductLine | None = None) -> QuerySet[Platform]:
    """Active platforms with a service on sale, within `product_line` when given."""
    lookups = {"platform": OuterRef("pk")}
    if product_line:
        lookups["product_line"] = product_line
    return Platform.objects.filter(active=True).filter(_on_sale_for(**lookups))


def module_list(*, product_line: ProductLine | None = None, platform: Platform | None = None) -> QuerySet[Module]:
    """Active modules with a service on sale, within the line and platform when given."""
    lookups = {"module": OuterRef("pk")}
    if product_line:
        lookups["product_line"] = product_line
    if platform:
        lookups["platform"] = platform
    return Module.objects.filter(active=True).filter(_on_sale_for(**lookups))


def product_key_normalize(raw: str) -> str:
    """Product keys are printed in upper case, sometimes with spaces: compare them without."""
    return re.sub(r"\s+", "", raw or "").upper()


def product_line_get_for_key(*, key: str) -> ProductLine:
    """The active product line whose key pattern matches `key` in full.

    Raises MalformedProductKey when `key` cannot be a product key at all, and
    UnknownProductKey when no line's pattern matches. Lines are tried in their
    sort order, so an overlapping pattern resolves to the first line.
    """
    key = product_key_normalize(key)
    if not PRODUCT_KEY_FORMAT.fullmatch(key):
        raise MalformedProductKey()
    for line in ProductLine.objects.filter(active=True):
        if line.matches_key(key):
            return line
    raise UnknownProductKey()
