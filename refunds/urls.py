from django.contrib.auth.decorators import login_required
from django.urls import path
from django.utils.translation import gettext_lazy as _

from mall.views import coming

app_name = "refunds"

urlpatterns = [
    path("account/refunds/", login_required(coming), {"title": _("Refunds")}, name="list"),
]
