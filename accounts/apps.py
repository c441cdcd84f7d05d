from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    # The page cache's contract (docs/page-cache.md), held by `manage.py check`.
    page_cache_customer_models = {
        "User": "pk",  # the name in every page's header
        "ProductKey": "user_id",
        "InvoiceProfile": "user_id",
        "Address": "user_id",
        "Message": "user_id",  # the unread count in every page's header
    }
    page_cache_exempt_models = {
        "User_groups": "staff groups, for the admin; a page shows at most the back-office link, from User.is_staff",
        "User_user_permissions": "staff permissions, for the admin; no page the cache keeps shows them",
    }
