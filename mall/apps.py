from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MallConfig(AppConfig):
    """The project package as an app: it connects the page cache's invalidation signals."""

    name = "mall"
    verbose_name = _("Cloud Mall")

    def ready(self):
        from . import pagecache

        pagecache.connect_signals()
