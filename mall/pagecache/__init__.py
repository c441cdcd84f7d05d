"""The page cache: the busiest GET pages kept whole, per visitor, invalidated by versions.

docs/page-cache.md is the guide (how to add a cached view, the contract, what is never
stored). Where each part lives:

* contract.py: what each app declares in its apps.py (its cached views, the models a
  customer sees, the shared ones, the exempt ones) and @cacheable; checks.py: the system
  check that holds every app and model to it.
* versions.py: a version per customer and one shared (the catalogue), bumped by every
  change to a declared model: post_save/post_delete, and bulk update() and bulk_create()
  through querysets.py's PageVisibleQuerySet, which every declared model's managers use.
* middleware.py: serves a page only while its versions are unchanged; stores only what
  every later visitor with the same key may see.
* tokens.py and mall/templatetags/pagecache.py: CSRF and one-time tokens are placeholders
  in a kept page, filled in for each response.
* django_internals.py: the Django details that are not public API, one function each,
  each tested against the installed Django.
"""

from .contract import cacheable
from .middleware import BumpOnWriteMiddleware, PageCacheMiddleware
from .querysets import PageVisibleManager, PageVisibleQuerySet
from .versions import (
    clear_local,
    customer_changed,
    customers_changed,
    expire_at,
    row_changed,
    shared_changed,
    shared_version,
)

__all__ = [
    "BumpOnWriteMiddleware",
    "PageCacheMiddleware",
    "PageVisibleManager",
    "PageVisibleQuerySet",
    "cacheable",
    "clear_local",
    "customer_changed",
    "customers_changed",
    "expire_at",
    "row_changed",
    "shared_changed",
    "shared_version",
]
