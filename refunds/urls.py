from django.urls import path

from . import views

app_name = "refunds"

urlpatterns = [
    # The customer's own orders and refunds only (views.py).
    path("account/orders/<str:number>/refund/", views.refund_request, name="request"),
    path("account/refunds/", views.refund_list, name="list"),
    path("account/refunds/<str:number>/withdraw/", views.refund_withdraw, name="withdraw"),
]
