"""发票 and 电子合同 for the customer, and the public contract verification page.

Documents live in private storage; these views stream them after checking that they
belong to the signed-in customer (anyone else's is a 404, as for orders).
"""

import logging

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from orders.models import Order
from orders.selectors import CONFIRMED_STATUSES, order_get_for_customer

from . import selectors, services
from .models import Contract, Invoice

PAGE_SIZE = 20

logger = logging.getLogger(__name__)


def pdf_response(field_file, filename: str) -> FileResponse:
    """A stored PDF as a download, never cached by shared caches."""
    if not field_file:
        raise Http404
    try:
        handle = field_file.open("rb")
    except FileNotFoundError:  # recorded but gone from storage: an operator must look
        logger.error("document %s is missing from storage", field_file.name)
        raise Http404 from None
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type="application/pdf")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def invoice_list(request):
    """我的发票: every invoice of the customer's orders with its progress."""
    page = Paginator(selectors.invoice_list_for_customer(customer=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "invoicing/invoice_list.html", {"page": page})


@login_required
@require_GET
def order_invoices(request, number):
    """发票信息 of one of the customer's orders (My Orders → 交易成功 → 发票信息): each
    invoice with its progress, number and PDF, and the e-contract. Before 确认收货 the
    page says when the invoice information will be made."""
    try:
        order = order_get_for_customer(customer=request.user, number=number)
    except Order.DoesNotExist:
        raise Http404 from None
    confirmed = order.status in CONFIRMED_STATUSES
    context = {
        "order": order,
        "confirmed": confirmed,
        "invoices": selectors.invoice_list_for_order(order=order) if confirmed else [],
        "contract": getattr(order, "contract", None) if confirmed else None,
    }
    return render(request, "invoicing/order_invoices.html", context)


@login_required
@require_GET
def invoice_download(request, pk):
    try:
        invoice = selectors.invoice_get_for_customer(customer=request.user, pk=pk)
    except Invoice.DoesNotExist:
        raise Http404 from None
    return pdf_response(invoice.document, invoice_filename(invoice))


@login_required
@require_GET
def contract_download(request, number):
    try:
        contract = selectors.contract_get_for_customer(customer=request.user, number=number)
    except Contract.DoesNotExist:
        raise Http404 from None
    return pdf_response(contract.pdf, f"{contract.number}.pdf")


@never_cache
@require_GET
def contract_verify(request, token):
    """Public: what the contract's QR code opens. The token is unguessable; an unknown
    one is a 404."""
    try:
        contract = selectors.contract_get_by_token(token=token)
    except Contract.DoesNotExist:
        raise Http404 from None
    context = {"contract": contract, "check": services.contract_verify(contract)}
    response = render(request, "invoicing/contract_verify.html", context)
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response


def invoice_filename(invoice: Invoice) -> str:
    if invoice.official_pdf and invoice.number:
        return f"{invoice.number}.pdf"
    return f"{invoice.order.number}-invoice-{invoice.pk}.pdf"
