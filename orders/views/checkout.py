"""店铺订购结算 (guide step 3) for one service or the whole 清单, and the 清单 itself."""

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.selectors import invoice_profile_list
from catalog.models import Service
from catalog.selectors import service_get_on_sale
from mall import pagecache
from mall.ratelimit import rate_limit

from .. import services
from ..exceptions import OrderError
from ..forms import CartQuantityForm, CheckoutForm
from ..models import CartItem
from ..selectors import agreement_schedule, cart_items_for

RECALCULATE = "recalculate"


@pagecache.cacheable
@login_required
def checkout(request, service_id):
    """立即购买 lands here: one service, quantity 1 to start with."""
    try:
        service = service_get_on_sale(pk=service_id)
    except Service.DoesNotExist:
        raise Http404 from None
    return checkout_page(request, lines=[(service, 1)], from_cart=False)


@login_required
def checkout_cart(request):
    """The whole 清单 as one main order, a line per service."""
    items = list(cart_items_for(user=request.user))
    if not items and request.method != "POST":
        messages.info(request, _("Your list is empty. Add services to it from their pages."))
        return redirect("orders:cart")
    # An empty list on POST still reaches the service: a repeated submit (its token) finds
    # the order the first one made, which emptied the list.
    return checkout_page(request, lines=[(item.service, item.quantity) for item in items], from_cart=True)


# Here rather than on each view: one counter per customer for 立即购买, the 清单 and 续订.
@rate_limit("checkout", key="user")
def checkout_page(request, *, lines, from_cart, profiles=None, prefill=None):
    """The checkout page and its submission for `lines`; `profiles` (the customer's invoice
    profiles, when the caller already read them) and `prefill` serve a renewal (views/renew.py)."""
    schedule = agreement_schedule()
    agreement = schedule.current
    # A cached checkout page must not outlive the agreement it shows (docs/page-cache.md).
    pagecache.expire_at(request, schedule.next_published_at)
    if agreement is None:
        # No published agreement: nothing can be accepted, so nothing can be ordered.
        return render(request, "orders/checkout_unavailable.html", {"lines": lines, "from_cart": from_cart})
    form = CheckoutForm(
        request.POST if request.method == "POST" else None,
        user=request.user,
        profiles=invoice_profile_list(user=request.user) if profiles is None else profiles,
        agreement=agreement,
        lines=lines,
        prefill=prefill,
    )
    if request.method == "POST":
        if RECALCULATE in request.POST:
            form.recalculate()
        elif form.is_valid():
            try:
                order = services.order_checkout(
                    customer=request.user,
                    accepted_ip=get_client_ip_address(request),
                    from_cart=from_cart,
                    **form.submission(),
                )
            except OrderError as error:
                form.add_error(None, error.message)
            except ValidationError as error:  # the new invoice profile broke an accounts rule
                form.add_new_invoice_errors(error)
            else:
                messages.success(
                    request, _("Order %(number)s submitted: it is awaiting review.") % {"number": order.number}
                )
                return redirect(reverse("orders:list") + "?tab=awaiting")
    rows, total = [], None
    if lines:
        try:
            priced = services.order_price_lines(items=form.items())
        except OrderError as error:  # a service went off sale since the page was built
            form.add_error(None, error.message)
        else:
            rows = form.item_rows(priced)
            if all(row.subtotal is not None for row in rows):
                total = sum(row.subtotal for row in rows)
    context = {"form": form, "agreement": agreement, "rows": rows, "total": total, "from_cart": from_cart}
    return render(request, "orders/checkout.html", context)


# --- 清单 -------------------------------------------------------------------------------


@login_required
def cart(request):
    return _cart_page(request)


def _cart_page(request, *, bound=None):
    """The list with a quantity form per item; `bound` is (item id, form) re-shown with its errors."""
    items = list(cart_items_for(user=request.user))
    checkout_items = [services.CheckoutItem(item.service_id, item.quantity) for item in items]
    priced = services.order_price_lines(items=checkout_items) if items else []
    rows = []
    for item, line in zip(items, priced, strict=True):
        if bound and bound[0] == item.pk:
            form = bound[1]
        else:
            form = CartQuantityForm(initial={"quantity": item.quantity}, auto_id=f"id_item{item.pk}_%s")
        rows.append({"item": item, "form": form, **line})
    total = sum(line["subtotal"] for line in priced)
    return render(request, "orders/cart.html", {"rows": rows, "total": total})


def cart_add(request, service_id):
    """加入清单 on a service page. Signed-out visitors sign in and come back to the
    service; a GET (such as the return from signing in) adds nothing."""
    service_url = reverse("catalog:service-detail", args=[service_id])
    if not request.user.is_authenticated:
        return redirect_to_login(service_url)
    if request.method != "POST":
        return redirect(service_url)
    try:
        item = services.cart_add(user=request.user, service_id=service_id)
    except Service.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("“%(service)s” is on your list.") % {"service": item.service.name})
    return redirect("orders:cart")


@login_required
@require_POST
def cart_update(request, item_id):
    form = CartQuantityForm(request.POST, auto_id=f"id_item{item_id}_%s")
    if not form.is_valid():
        if not cart_items_for(user=request.user).filter(pk=item_id).exists():
            raise Http404
        return _cart_page(request, bound=(item_id, form))
    try:
        services.cart_update(user=request.user, item_id=item_id, quantity=form.cleaned_data["quantity"])
    except CartItem.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("The quantity was updated."))
    return redirect("orders:cart")


@login_required
@require_POST
def cart_remove(request, item_id):
    try:
        services.cart_remove(user=request.user, item_id=item_id)
    except CartItem.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("The service was removed from your list."))
    return redirect("orders:cart")
