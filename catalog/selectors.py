"""Reads of the catalog shared by views, admin and later the order pages."""

import hashlib
import re
from dataclasses import dataclass, replace

from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q, QuerySet

from mall import pagecache

from .exceptions import MalformedProductKey, UnknownProductKey
from .models import Module, Platform, ProductLine, Service

PRODUCT_KEY_FORMAT = re.compile(r"[A-Z0-9][A-Z0-9+\-]{3,63}")
SEARCH_TERMS_MAX = 8
# Cached catalog reads (and the storefront's cached fragments) are keyed by
# catalog_version(), so they are never stale; the timeout only bounds how long entries
# of older versions linger.
CACHE_TIMEOUT = 10 * 60


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


def _cached(version: str | None, key: str, compute):
    """compute(), kept for CACHE_TIMEOUT under `key` of catalogue `version` (None: not kept)."""
    if version is None:
        return compute()
    return cache.get_or_set(f"catalog:{version}:{key}", compute, CACHE_TIMEOUT)


def service_list_featured(*, limit: int = 8) -> list[Service]:
    return _cached(catalog_version(), f"featured:{limit}", lambda: list(service_list().filter(featured=True)[:limit]))


def service_ids(*, filters: ServiceFilters) -> list[int]:
    """Ids of the services matching `filters`, in catalog order (cached per catalog version)."""
    digest = hashlib.sha256(repr((filters.q, *_ids(filters))).encode()).hexdigest()[:32]
    return _cached(catalog_version(), f"ids:{digest}", lambda: list(service_list(filters=filters).values_list("pk", flat=True)))


def service_list_by_ids(ids: list[int]) -> list[Service]:
    """The services with these ids, joined with their line, platform and module, in the order given."""
    by_id = Service.objects.select_related("product_line", "platform", "module").in_bulk(ids)
    return [by_id[pk] for pk in ids if pk in by_id]


def service_get_on_sale(*, pk: int) -> Service:
    """The service if a customer may see it, with its line, platform and module (cached per
    catalog version, as the lists are); raises Service.DoesNotExist otherwise."""
    service = _cached(catalog_version(), f"service:{int(pk)}", lambda: service_list().filter(pk=pk).first())
    if service is None:
        raise Service.DoesNotExist(f"no service {pk} on sale")
    return service


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


@dataclass(frozen=True)
class Navigation:
    """What the product → platform → module selector offers, and the filters it shows."""

    product_lines: list[ProductLine]
    platforms: list[Platform]
    modules: list[Module]
    filters: ServiceFilters
    version: str | None  # catalog_version(): None when nothing is to be cached

    @property
    def cache_key(self) -> str:
        """Identifies what these filters select, for caching rendered results."""
        return hashlib.sha256(repr((self.version, self.filters.q, *_ids(self.filters))).encode()).hexdigest()[:32]

    @property
    def cache_seconds(self) -> int:
        """How long rendered results may be kept: CACHE_TIMEOUT, or 0 (not kept) without a version."""
        return CACHE_TIMEOUT if self.version is not None else 0


def catalog_navigation(*, filters: ServiceFilters) -> Navigation:
    """The selector's choices narrowed to what has services, and `filters` narrowed alike.

    A platform or module that the chosen product (and platform) has no service for
    is dropped, as the selector no longer offers it: switching from E3 × 京东 to a
    product without 京东 must not leave an invisible 京东 filter behind.
    """
    version = catalog_version()

    def cached(name, compute, *parts):
        return _cached(version, f"nav:{name}:{'-'.join(map(str, parts))}", lambda: list(compute()))

    line_id = filters.product_line.pk if filters.product_line else None
    platforms = cached("platforms", lambda: platform_list(product_line=filters.product_line), line_id)
    if filters.platform and filters.platform not in platforms:
        filters = replace(filters, platform=None, module=None)
    platform_id = filters.platform.pk if filters.platform else None
    modules = cached(
        "modules", lambda: module_list(product_line=filters.product_line, platform=filters.platform), line_id, platform_id
    )
    if filters.module and filters.module not in modules:
        filters = replace(filters, module=None)
    return Navigation(cached("lines", product_line_list), platforms, modules, filters, version)


def catalog_version() -> str | None:
    """The catalogue's version: it changes whenever a catalogue row is added, changed or
    deleted. It is the page cache's shared version (mall/pagecache/versions.py), bumped
    by the models' signals and their queryset's bulk update(), so whole pages, the
    storefront's fragments and these reads go stale together, by one scheme.

    None when nothing may be cached from the catalogue: the page cache is off (without a
    shared cache each process would keep its own version and miss the others' changes),
    or the cache cannot keep the version. A process trusts its copy for 2 seconds: a
    change made in another process shows within that time.
    """
    return pagecache.shared_version()


def _ids(filters: ServiceFilters) -> tuple:
    return tuple(obj.pk if obj else None for obj in (filters.product_line, filters.platform, filters.module))


def product_key_normalize(raw: str) -> str:
    """Upper case, with spaces read as the hyphens they stand for ("e3o 1a2b - 3c4d" → "E3O-1A2B-3C4D")."""
    key = re.sub(r"\s*-\s*", "-", (raw or "").strip())
    return re.sub(r"\s+", "-", key).upper()


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
