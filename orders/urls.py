from django.urls import path

from .views import account, checkout, proofs, renew

app_name = "orders"

urlpatterns = [
    # Checkout and the 清单 (views/checkout.py).
    path("checkout/<int:service_id>/", checkout.checkout, name="checkout"),
    path("checkout/cart/", checkout.checkout_cart, name="checkout-cart"),
    path("cart/", checkout.cart, name="cart"),
    path("cart/add/<int:service_id>/", checkout.cart_add, name="cart-add"),
    path("cart/<int:item_id>/update/", checkout.cart_update, name="cart-update"),
    path("cart/<int:item_id>/remove/", checkout.cart_remove, name="cart-remove"),
    # My Orders (views/account.py): the signed-in customer's own orders only.
    path("account/orders/", account.order_list, name="list"),
    path("account/orders/<str:number>/", account.order_detail, name="detail"),
    path("account/orders/<str:number>/edit/", account.order_edit, name="edit"),
    path("account/orders/<str:number>/cancel/", account.order_cancel, name="cancel"),
    path("account/orders/<str:number>/confirm/", account.order_confirm, name="confirm"),
    path("account/orders/<str:number>/payment-proof/", proofs.payment_proof_upload, name="payment-proof"),
    path(
        "account/orders/<str:number>/payment-proof/<int:pk>/",
        proofs.payment_proof_download,
        name="payment-proof-download",
    ),
    path("account/orders/<str:number>/renew/", renew.order_renew, name="renew"),
]
