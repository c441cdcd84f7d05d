"""Writes of the 清单 (cart) and of checkout with a new invoice profile.

Staged here for merging into orders/services.py (STYLE: writes live in services.py);
once merged, the imports from .services below go and callers import from services.
"""

import uuid

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import InvoiceProfile
from accounts.services import invoice_profile_create
from catalog.models import Service

from .exceptions import OrderError
from .models import Agreement, CartItem, Order
from .services import QUANTITY_MAX, CheckoutItem, order_submit


def _quantity_check(quantity) -> None:
    if not isinstance(quantity, int) or not 1 <= quantity <= QUANTITY_MAX:
        raise OrderError(_("The quantity must be between 1 and %(max)s.") % {"max": QUANTITY_MAX})


def cart_add(*, user, service_id: int, quantity: int = 1) -> CartItem:
    """加入清单: put a service on sale on the user's list; adding it again adds to its
    quantity, up to the most one order line takes. Service.DoesNotExist when the
    service is not on sale."""
    _quantity_check(quantity)
    service = Service.objects.on_sale().get(pk=service_id)
    with transaction.atomic():
        # get_or_create retries the read when a concurrent add inserted the row first.
        item, created = CartItem.objects.select_for_update().get_or_create(
            user=user, service=service, defaults={"quantity": quantity}
        )
        if not created:
            item.quantity = min(item.quantity + quantity, QUANTITY_MAX)
            item.save(update_fields=["quantity"])
    return item


def cart_update(*, user, item_id: int, quantity: int) -> CartItem:
    """A new quantity for one of the user's list items; another user's is CartItem.DoesNotExist."""
    _quantity_check(quantity)
    with transaction.atomic():
        item = CartItem.objects.select_for_update().get(user=user, pk=item_id)
        item.quantity = quantity
        item.save(update_fields=["quantity"])
    return item


def cart_remove(*, user, item_id: int) -> None:
    """Take an item off the user's list; another user's is CartItem.DoesNotExist."""
    CartItem.objects.get(user=user, pk=item_id).delete()


def order_checkout(
    *,
    customer,
    items: list[CheckoutItem],
    invoice_profile: InvoiceProfile | None = None,
    new_invoice_data: dict | None = None,
    details: dict,
    payment_method: str,
    agreement: Agreement,
    accepted_ip: str | None,
    checkout_token: uuid.UUID,
    from_cart: bool = False,
) -> Order:
    """店铺订购结算 with a saved invoice profile, or with one added on the spot
    (`new_invoice_data`: InvoiceProfileForm's cleaned_data). The new profile and the
    order are made together or not at all: an OrderError (or the profile's
    ValidationError) leaves neither.
    """
    submit = {
        "customer": customer,
        "items": items,
        "details": details,
        "payment_method": payment_method,
        "agreement": agreement,
        "accepted_ip": accepted_ip,
        "checkout_token": checkout_token,
        "from_cart": from_cart,
    }
    if new_invoice_data is None:
        if invoice_profile is None:
            raise OrderError(_("Choose the invoice details for this order."))
        return order_submit(invoice_profile=invoice_profile, **submit)
    with transaction.atomic():
        # The customer's row lock queues repeats of this checkout (a double click), so
        # the second finds the order of the first and adds no second profile.
        # Lock order: user, then invoice profiles, then the day's serial counter.
        get_user_model().objects.select_for_update().get(pk=customer.pk)
        existing = Order.objects.filter(customer=customer, checkout_token=checkout_token).first()
        if existing:
            return existing
        profile = invoice_profile_create(user=customer, data=new_invoice_data)
        return order_submit(invoice_profile=profile, **submit)
