from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MallConfig(AppConfig):
    """The project package as an app: it connects the page cache to the models the apps
    declare (docs/page-cache.md) and registers the check that holds them to it."""

    name = "mall"
    verbose_name = _("Cloud Mall")

    def ready(self):
        from .pagecache import checks, versions  # noqa: F401  (importing checks registers the check)

        versions.connect_signals()
