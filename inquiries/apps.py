from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InquiriesConfig(AppConfig):
    """咨询管理: customers' questions about a service or an order, answered by staff."""

    name = "inquiries"
    verbose_name = _("Inquiries")
