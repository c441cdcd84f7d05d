from django.urls import path

from . import views

app_name = "invoicing"

urlpatterns = [
    path("account/invoices/", views.invoice_list, name="list"),
    path("account/invoices/<int:pk>.pdf", views.invoice_download, name="download"),
    path("account/orders/<str:number>/invoices/", views.order_invoices, name="order-invoices"),
    path("account/orders/<str:number>/contract.pdf", views.contract_download, name="contract"),
    path("contracts/verify/<str:token>/", views.contract_verify, name="contract-verify"),
]
