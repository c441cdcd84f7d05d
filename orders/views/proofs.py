"""上传回单 (remittance slips) in My Orders: upload one, download one.

Both look the order up among the signed-in customer's own (account.order_view), so
anyone else's order or slip is a 404.
"""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mall.ratelimit import rate_limit

from .. import proofs, services
from ..exceptions import OrderError, TransitionRefused
from .account import order_view


class PaymentProofForm(forms.Form):
    """One file; its checks are the service's (orders.proofs), by the bytes."""

    file = forms.FileField(
        label=gettext_lazy("Remittance slip"),
        help_text=gettext_lazy("A photo or scan (JPEG or PNG) or a PDF of the bank's slip, up to %(max)s."),
        widget=forms.FileInput(attrs={"accept": ".jpg,.jpeg,.png,.pdf", "data-testid": "proof-file"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["file"]
        field.help_text = field.help_text % {"max": filesizeformat(proofs.max_bytes())}


@order_view("GET", "POST")
@rate_limit("upload", key="user")
def payment_proof_upload(request, order):
    """上传回单 while the order awaits review or is in trade."""
    if order.status not in proofs.UPLOAD_STATUSES:
        messages.warning(request, TransitionRefused(order, services.ACTION_LABELS["upload_payment_proof"]).message)
        return redirect(order)
    form = PaymentProofForm(request.POST, request.FILES) if request.method == "POST" else PaymentProofForm()
    if request.method == "POST" and form.is_valid():
        try:
            proofs.payment_proof_upload(order=order, actor=request.user, upload=form.cleaned_data["file"])
        except TransitionRefused as error:
            messages.error(request, error.message)
            return redirect(order)
        except OrderError as error:
            form.add_error("file", error.message)
        else:
            messages.success(request, _("Your remittance slip was uploaded. Staff will check it with your order."))
            return redirect(order)
    context = {"order": order, "form": form, "slips": list(order.payment_proofs.all())}
    return render(request, "orders/payment_proof_upload.html", context)


@order_view("GET", "HEAD")
def payment_proof_download(request, order, pk):
    try:
        proof = order.payment_proofs.get(pk=pk)
    except order.payment_proofs.model.DoesNotExist:
        raise Http404 from None
    return proofs.payment_proof_response(proof)
