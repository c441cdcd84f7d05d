from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Store orders")

    # The page cache's contract (docs/page-cache.md), held by `manage.py check`.
    page_cache_views = ("list", "detail", "checkout")
    page_cache_customer_models = {
        "Order": "customer_id",
        "OrderLine": "order__customer_id",
        "OrderEvent": "order__customer_id",
        "PaymentProof": "order__customer_id",
        "CartItem": "user_id",
    }
    page_cache_shared_models = ("Agreement",)  # the checkout page shows the current one
    page_cache_exempt_models = {
        "DailySerial": "the counter that hands out line serials; pages show the serial stored on each line",
        "ReminderSent": "the reminder job's record of what it sent; the customer sees the message it wrote (accounts.Message), never this row",
    }
