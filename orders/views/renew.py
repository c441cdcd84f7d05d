"""续订 (renewal): order again what a completed order had, in one click.

The renewal is the ordinary checkout page (views/checkout.py `checkout_page`) served at
/account/orders/<number>/renew/, with the order's services as its lines instead of one
catalog service or the 清单. The page posts back to the same URL, which rebuilds the
lines from the order and submits through services.order_checkout like any checkout.
Rejected alternatives: copying the services into the 清单 would change the customer's
list behind their back (and checkout empties it), and carrying the services in the
query string would let the customer choose them rather than the order.

What the renewal takes from the order: its services still on sale and their
quantities, the invoice profile it was made with if the customer still has it (else
the usual default), and the 补充信息 but the remarks. Prices are today's catalog prices,
the agreement must be accepted again and the payment method starts at its default;
the new order refers to the old one nowhere.
"""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from accounts.selectors import invoice_profile_list
from catalog.models import Service

from .. import services
from ..exceptions import TransitionRefused
from ..forms import CheckoutForm
from ..models import Order, OrderLine
from .account import RENEWABLE_STATUSES, order_view
from .checkout import checkout_page

# The invoice snapshot fields that name the buyer: a profile that still matches them is
# "the same profile" even when its address or bank account was edited since.
INVOICE_IDENTITY = ("invoice_kind", "invoice_title_type", "invoice_title", "invoice_taxpayer_id")
# 补充信息 a renewal copies; the remarks were about the old order.
RENEWED_DETAILS = tuple(name for name in services.DETAIL_FIELDS if name != "remarks")


@order_view("GET", "POST")
def order_renew(request, order):
    """续订 of one of the customer's own orders in 交易成功 (anyone else's is a 404)."""
    if order.status not in RENEWABLE_STATUSES:
        messages.warning(request, TransitionRefused(order, _("Renew")).message)
        return redirect(order)
    lines, dropped = renewal_lines(order)
    if not lines:
        messages.warning(request, _("None of the services of this order is on sale any more, so it cannot be renewed."))
        return redirect(order)
    if request.method == "POST" and any(CheckoutForm.quantity_name(line.service) in request.POST for line in dropped):
        # A service went off sale after the page was shown: show the renewal again (and
        # say what was dropped) rather than order less than the customer saw.
        return redirect(request.path)
    if request.method == "GET":
        if dropped:
            names = list(dict.fromkeys(line.service_name for line in dropped))
            message = ngettext(
                "No longer on sale, so not renewed: %(services)s.",
                "No longer on sale, so not renewed: %(services)s.",
                len(names),
            )
            messages.warning(request, message % {"services": pgettext("list separator", ", ").join(names)})
        messages.info(
            request,
            _("Renewing order %(number)s: check the details, accept the agreement and submit.")
            % {"number": order.number},
        )
    profiles = list(invoice_profile_list(user=request.user))
    return checkout_page(
        request, lines=lines, from_cart=False, profiles=profiles, prefill=renewal_prefill(order, profiles)
    )


def renewal_lines(order: Order) -> tuple[list[tuple[Service, int]], list[OrderLine]]:
    """(service, quantity) for each of the order's services still on sale, in the order's
    line order (a service on two lines once, quantities added up to the most a line
    takes), and the order lines dropped because their service is off sale."""
    order_lines = list(order.lines.all())
    on_sale = Service.objects.on_sale().in_bulk([line.service_id for line in order_lines])
    quantities: dict[int, int] = {}
    dropped = []
    for line in order_lines:
        if line.service_id in on_sale:
            quantities[line.service_id] = min(quantities.get(line.service_id, 0) + line.quantity, services.QUANTITY_MAX)
        else:
            dropped.append(line)
    return [(on_sale[pk], quantity) for pk, quantity in quantities.items()], dropped


def renewal_prefill(order: Order, profiles) -> dict:
    """The checkout form's initial values from `order`: its 补充信息 but the remarks, and the
    invoice profile it was made with when one of `profiles` still matches the snapshot
    (every field first, then the buyer's identity); otherwise the form's default stands."""
    prefill = {name: getattr(order, name) for name in RENEWED_DETAILS}
    snapshot = {order_field: getattr(order, order_field) for order_field in services.INVOICE_FIELDS}

    def matches(profile, fields) -> bool:
        return all(getattr(profile, services.INVOICE_FIELDS[name]) == snapshot[name] for name in fields)

    profile = next((p for p in profiles if matches(p, services.INVOICE_FIELDS)), None) or next(
        (p for p in profiles if matches(p, INVOICE_IDENTITY)), None
    )
    if profile is not None:
        prefill["invoice_profile"] = str(profile.pk)
    return prefill
