from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from . import views

admin.site.site_header = _("Cloud Mall back office")
admin.site.site_title = _("Cloud Mall")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("", include("catalog.urls")),
    path("", include("accounts.urls")),
    path("", include("orders.urls")),
    path("", include("invoicing.urls")),
    path("", include("refunds.urls")),
    path("", include("inquiries.urls")),
    path("help/", views.help_page, name="help"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path(settings.ADMIN_URL, admin.site.urls),
]
