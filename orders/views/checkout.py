from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from catalog.models import Service
from catalog.selectors import service_get_on_sale


@login_required
def checkout(request, service_id):
    """立即购买 lands here. Until online ordering opens it shows what would be ordered
    and how to order meanwhile; it creates nothing."""
    try:
        service = service_get_on_sale(pk=service_id)
    except Service.DoesNotExist:
        raise Http404 from None
    return render(request, "orders/checkout_coming.html", {"service": service})
