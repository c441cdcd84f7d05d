from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RefundsConfig(AppConfig):
    name = "refunds"
    verbose_name = _("Refunds")

    # The page cache's contract (docs/page-cache.md), held by `manage.py check`.
    page_cache_customer_models = {"RefundRequest": "order__customer_id"}
