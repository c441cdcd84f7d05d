from django.urls import path

from .views import account, checkout

app_name = "orders"

urlpatterns = [
    path("checkout/<int:service_id>/", checkout.checkout, name="checkout"),
    # My Orders (views/account.py): the signed-in customer's own orders only.
    path("account/orders/", account.order_list, name="list"),
    path("account/orders/<str:number>/", account.order_detail, name="detail"),
    path("account/orders/<str:number>/edit/", account.order_edit, name="edit"),
    path("account/orders/<str:number>/cancel/", account.order_cancel, name="cancel"),
    path("account/orders/<str:number>/confirm/", account.order_confirm, name="confirm"),
]
