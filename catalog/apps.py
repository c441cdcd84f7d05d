from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalog")

    # The page cache's contract (docs/page-cache.md), held by `manage.py check`.
    page_cache_views = ("home", "service-list", "service-detail")
    page_cache_shared_models = ("ProductLine", "Platform", "Module", "Service")
    # The product line a key lookup found (views.SESSION_KEY_LINE): the key warning.
    page_cache_session_values = ("catalog_key_product_line",)
