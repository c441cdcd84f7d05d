"""退款 for the customer: the refund form of an order, 退款管理 (the refunds list) and 撤销.

Orders and refunds are looked up among the signed-in customer's own, so anyone else's
number is a 404 (never a 403 that would confirm it exists).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from orders.views.account import order_view

from . import selectors, services
from .exceptions import RefundError
from .forms import RefundRequestForm
from .models import RefundRequest

PAGE_SIZE = 20


@order_view("GET", "HEAD", "POST")
def refund_request(request, order):
    """提交退款: the form while 退款 is offered for the order (refund_problem is None);
    otherwise back to the order with the reason."""
    selectors.orders_prefetch_for_refund([order])
    problem = services.refund_problem(order)
    if problem and request.method in ("GET", "HEAD"):
        messages.warning(request, problem)
        return redirect(order)
    form = RefundRequestForm(request.POST or None, order=order, customer=request.user)
    if request.method == "POST":
        if form.is_valid():
            try:
                refund = services.refund_request(
                    order=order,
                    actor=request.user,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    description=form.cleaned_data["description"],
                    contact_mobile=form.cleaned_data["contact_mobile"],
                )
            except RefundError as error:
                if problem:
                    messages.error(request, error.message)
                    return redirect(order)
                form.add_error(None, error.message)
            else:
                # A double click finds its first request and lands here too, with one refund.
                message = _("Refund %(refund)s of ¥%(amount)s was submitted: finance reviews it. Follow it here.")
                messages.success(request, message % {"refund": refund.number, "amount": refund.amount})
                return redirect(refund)
        elif problem:
            messages.error(request, problem)
            return redirect(order)
    return render(request, "refunds/refund_form.html", {"order": order, "form": form})


@login_required
@require_GET
def refund_list(request):
    """退款管理: every refund of the customer's orders with its progress, newest first."""
    page = Paginator(selectors.refund_list_for_customer(customer=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [(refund, selectors.refund_progress(refund)) for refund in page]
    return render(request, "refunds/refund_list.html", {"page": page, "rows": rows})


@login_required
def refund_withdraw(request, number):
    """撤销 a pending refund (POST only); the order returns to where it was."""
    try:
        refund = selectors.refund_get_for_customer(customer=request.user, number=number)
    except RefundRequest.DoesNotExist:
        raise Http404 from None
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        services.refund_withdraw(refund=refund, actor=request.user)
    except RefundError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Refund %(refund)s was withdrawn.") % {"refund": refund.number})
    return redirect(refund)
