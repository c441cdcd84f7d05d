from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InquiriesConfig(AppConfig):
    """咨询管理: customers' questions about a service or an order, answered by staff."""

    name = "inquiries"
    verbose_name = _("Inquiries")

    # The page cache's contract (docs/page-cache.md), held by `manage.py check`.
    page_cache_customer_models = {
        "Inquiry": "customer_id",
        "InquiryMessage": "inquiry__customer_id",  # the unread answers in every page's header
    }
