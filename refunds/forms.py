"""提交退款: the customer's refund form. The amount's bounds are refunds.services'."""

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.validators import cn_mobile_to_e164

from . import services
from .exceptions import RefundError
from .models import RefundRequest

# A plain decimal, as people write money: digits, at most one point, an optional sign
# (so "-5" gets the "more than ¥0.00" message rather than "not a number"). Exponents
# ("1e3"), NaN and Infinity are not amounts anyone means to type.
AMOUNT_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
# More whole digits than any order total can have (12 digits, 2 after the point).
AMOUNT_MAX_WHOLE_DIGITS = 10


class RefundRequestForm(forms.Form):
    amount = forms.CharField(label=_("Refund amount (¥)"))
    reason = forms.ChoiceField(label=_("Reason"), choices=RefundRequest.Reason.choices, widget=forms.RadioSelect)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=services.DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    contact_mobile = forms.CharField(
        label=_("Contact mobile"), max_length=32, help_text=_("A mainland China mobile number finance can call.")
    )

    def __init__(self, *args, order, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        self.fields["amount"].initial = f"{order.refundable_amount:.2f}"
        self.fields["amount"].help_text = _(
            "Paid ¥%(paid)s, already refunded ¥%(refunded)s: you can ask for at most ¥%(max)s."
        ) % {
            "paid": f"{order.paid_amount:.2f}",
            "refunded": f"{order.refunded_amount:.2f}",
            "max": f"{order.refundable_amount:.2f}",
        }
        # Formatted here, in the request's language (a lazy string formatted at import would not be).
        self.fields["description"].help_text = _(
            "Required when the reason is “Other”. At most %(max)s characters."
        ) % {"max": services.DESCRIPTION_MAX}
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})
        self.fields["contact_mobile"].initial = customer.mobile

    def clean_amount(self) -> Decimal:
        raw = self.cleaned_data["amount"].strip().replace(",", "").replace("，", "").lstrip("¥￥").strip()
        if not AMOUNT_RE.fullmatch(raw):
            raise ValidationError(_("Enter the refund amount as a number, e.g. 100.00."), code="invalid")
        # Decimal's context cannot round such numbers to the fen; they are out of bounds anyway.
        if len(raw.lstrip("+-").split(".")[0].lstrip("0")) > AMOUNT_MAX_WHOLE_DIGITS:
            if raw.startswith("-"):
                raise ValidationError(_("The refund amount must be more than ¥0.00."), code="min_value")
            raise ValidationError(self._too_much(), code="max_value")
        try:
            return services.amount_clean(raw, order=self.order)
        except RefundError as error:
            raise ValidationError(error.message, code="invalid") from None

    def _too_much(self) -> str:
        order = self.order
        return _(
            "The refund amount can be at most ¥%(max)s (paid ¥%(paid)s, already refunded ¥%(refunded)s)."
        ) % {"max": order.refundable_amount, "paid": order.paid_amount, "refunded": order.refunded_amount}

    def clean_contact_mobile(self) -> str:
        return cn_mobile_to_e164(self.cleaned_data["contact_mobile"].strip())

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("reason") == RefundRequest.Reason.OTHER and not cleaned.get("description", "").strip():
            self.add_error("description", _("Describe the reason when you choose “Other”."))
        return cleaned
