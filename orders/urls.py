from django.urls import path

from .views import account, checkout

app_name = "orders"

urlpatterns = [
    path("checkout/<int:service_id>/", checkout.checkout, name="checkout"),
    path("account/orders/", account.order_list, name="list"),
]
