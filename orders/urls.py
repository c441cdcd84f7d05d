from django.contrib.auth.decorators import login_required
from django.urls import path
from django.utils.translation import gettext_lazy as _

from mall.views import coming

from . import views

app_name = "orders"

urlpatterns = [
    path("checkout/<int:service_id>/", views.checkout, name="checkout"),
    path("account/orders/", login_required(coming), {"title": _("My orders")}, name="list"),
]
