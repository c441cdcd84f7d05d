"""我的订单 (My Orders) and the customer's actions on an order.

Every page looks the order up among the signed-in customer's own orders, so anyone
else's order number is a 404 (never a 403 that would confirm it exists).
"""

from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django_fsm import can_proceed

from invoicing import selectors as invoice_selectors
from mall import pagecache
from refunds import selectors as refund_selectors
from refunds.services import refund_problem

from .. import selectors, services
from ..exceptions import OrderError, TransitionRefused
from ..forms_account import OrderEditForm, OrderSearchForm
from ..models import Order

PAGE_SIZE = 10

STATUS_LABELS = dict(Order.Status.choices)
# Where 退款 may be offered; the order detail says why when it is not.
REFUND_STATUSES = (Order.Status.IN_TRADE, Order.Status.SUCCESS)
# Where 上传回单 is offered (orders.proofs.UPLOAD_STATUSES; not imported: proofs imports services).
PROOF_STATUSES = (Order.Status.AWAITING_PAYMENT, Order.Status.REJECTED, Order.Status.IN_TRADE)
# Where 续订 (views/renew.py) is offered.
RENEWABLE_STATUSES = (Order.Status.SUCCESS,)


@dataclass(frozen=True)
class Actions:
    """What the 操作 column offers for an order, read from its state machine."""

    edit: bool
    cancel: bool
    confirm: bool
    refund: bool
    # Why 退款 is not offered (refunds.services.refund_problem); "" when it is.
    refund_problem: str = ""
    # 上传回单 (views/proofs.py).
    upload_proof: bool = False
    renew: bool = False
    # 发票信息 (invoicing.views.order_invoices): once the receipt is confirmed.
    invoice_info: bool = False
    # 不退款: a label, not a button, where a refund could be asked in this state but the
    # platform, the window or the amount left does not allow one (refund_problem says why).
    no_refund: bool = False

    @classmethod
    def of(cls, order: Order) -> "Actions":
        """Reads the order's lines, services and platforms: prefetch them for lists
        (refunds.selectors.orders_prefetch_for_refund)."""
        problem = refund_problem(order)
        return cls(
            edit=order.editable,
            cancel=can_proceed(order.cancel),
            confirm=can_proceed(order.confirm_receipt),
            refund=problem is None,
            refund_problem=problem or "",
            upload_proof=order.status in PROOF_STATUSES,
            renew=order.status in RENEWABLE_STATUSES,
            invoice_info=order.status in selectors.CONFIRMED_STATUSES,
            no_refund=problem is not None and order.status in REFUND_STATUSES,
        )


@dataclass(frozen=True)
class TabLink:
    key: str
    label: str
    count: int
    active: bool


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    action: str
    from_status: str
    to_status: str
    by: str
    note: str


def _fields(order: Order, names) -> list[tuple[str, object]]:
    """(label, value) of order fields, labelled as on the model; choices as displayed."""
    rows = []
    for name in names:
        field = Order._meta.get_field(name)
        value = getattr(order, f"get_{name}_display")() if field.choices else getattr(order, name)
        rows.append((capfirst(field.verbose_name), value))
    return rows


def order_view(*methods):
    """Sign-in required; the order is looked up among the customer's own first, so anyone
    else's number is a 404 whatever the method, and only then are `methods` enforced (405)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, number, **kwargs):
            try:
                order = selectors.order_get_for_customer(customer=request.user, number=number)
            except Order.DoesNotExist:
                raise Http404 from None
            if request.method not in methods:
                return HttpResponseNotAllowed(methods)
            return view(request, order, **kwargs)

        return wrapper

    return decorator


@pagecache.cacheable
@login_required
@require_GET
def order_list(request):
    """我的订单: the tabs with their counts, the search, 10 orders a page."""
    form = OrderSearchForm(request.GET)
    search = form.search()
    if form.errors:
        messages.error(request, _("Some search terms are not valid (see the search form) and were not applied."))
    orders = selectors.order_list_for_customer(customer=request.user, search=search)
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    refund_selectors.orders_prefetch_for_refund(page)
    counts = selectors.order_tab_counts(customer=request.user)
    tabs = [TabLink("", _("All orders"), sum(counts.values()), not search.tab)]
    tabs += [TabLink(tab.key, str(tab.label), counts[tab.key], search.tab == tab.key) for tab in selectors.TABS]
    context = {
        "form": form,
        "tabs": tabs,
        "page": page,
        "rows": [(order, Actions.of(order)) for order in page],
        "query": urlencode(form.query()),
        "searching": bool(search.number.strip() or search.start or search.end),
    }
    return render(request, "orders/order_list.html", context)


@pagecache.cacheable
@order_view("GET", "HEAD")
def order_detail(request, order):
    refund_selectors.orders_prefetch_for_refund([order])
    timeline = [
        TimelineEntry(
            at=event.at,
            action=str(services.ACTION_LABELS.get(event.action, event.action)),
            from_status=str(STATUS_LABELS.get(event.from_status, event.from_status)),
            to_status=str(STATUS_LABELS.get(event.to_status, event.to_status)),
            by=event.get_actor_kind_display(),
            note=_("Changed: %(fields)s") % {"fields": event.note_display} if event.action == "edit" else event.note,
        )
        for event in order.events.all()
    ]
    context = {
        "order": order,
        "actions": Actions.of(order),
        "details": _fields(order, services.DETAIL_FIELDS),
        "invoice": _fields(order, services.INVOICE_FIELDS),
        "timeline": timeline,
        "refunds": [
            (refund, refund_selectors.refund_progress(refund))
            for refund in refund_selectors.refund_list_for_order(order=order)
        ],
        "refund_offered_here": order.status in REFUND_STATUSES,
    }
    if order.status in selectors.CONFIRMED_STATUSES:  # 发票信息 and the e-contract (invoicing app)
        context["invoices"] = invoice_selectors.invoice_list_for_order(order=order)
        context["contract"] = getattr(order, "contract", None)
    return render(request, "orders/order_detail.html", context)


@order_view("GET", "POST")
def order_edit(request, order):
    """修改信息 while the order awaits review or was rejected; saving a rejected order
    resubmits it for review (services.order_edit does both)."""
    if not order.editable:
        messages.warning(request, TransitionRefused(order, services.ACTION_LABELS["edit"]).message)
        return redirect(order)
    form = OrderEditForm(request.POST or None, instance=order, customer=request.user)
    if request.method == "POST" and form.is_valid():
        was_rejected = order.status == Order.Status.REJECTED
        try:
            edited = services.order_edit(
                order=order,
                actor=request.user,
                details=form.details(),
                invoice_profile=form.cleaned_data["invoice_profile"],
            )
        except TransitionRefused as error:
            messages.error(request, error.message)
            return redirect(order)
        except OrderError as error:
            form.add_error(None, error.message)
        else:
            if was_rejected and edited.status == Order.Status.AWAITING_PAYMENT:
                messages.success(request, _("Your changes were saved and the order was resubmitted for review."))
            else:
                messages.success(request, _("Your changes were saved."))
            return redirect(edited)
    return render(request, "orders/order_edit.html", {"order": order, "form": form})


@order_view("GET", "POST")
def order_cancel(request, order):
    """取消订单: GET asks for confirmation, POST cancels."""
    if request.method == "GET":
        if not can_proceed(order.cancel):
            messages.warning(request, TransitionRefused(order, services.ACTION_LABELS["cancel"]).message)
            return redirect(order)
        return render(request, "orders/order_cancel.html", {"order": order})
    try:
        services.order_cancel(order=order, actor=request.user)
    except OrderError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Order %(number)s was cancelled.") % {"number": order.number})
    return redirect(order)


@order_view("POST")
def order_confirm(request, order):
    """确认收货. A repeat finds the order already confirmed and changes nothing."""
    try:
        services.order_confirm_receipt(order=order, actor=request.user)
    except OrderError as error:
        messages.error(request, error.message)
    else:
        message = _("Thank you: order %(number)s is complete. Its invoice is being prepared.")
        messages.success(request, message % {"number": order.number})
    return redirect(order)
