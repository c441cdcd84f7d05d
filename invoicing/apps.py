from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = _("Invoicing")

    # The page cache's contract (docs/page-cache.md), held by `manage.py check`.
    page_cache_customer_models = {
        "Invoice": "order__customer_id",
        "InvoiceLine": "invoice__order__customer_id",
        "Contract": "order__customer_id",
    }
    page_cache_exempt_models = {
        "DocumentJob": "the bookkeeping of making an order's documents, for the worker, the sweeper and the admin; pages show the invoice and contract it makes, never the job",
    }

    def ready(self):
        from . import checks  # noqa: F401  (registers the deploy checks)
