"""Forms of the finance pages in the refund admin. They parse what finance types;
refunds.services decides whether the move is allowed (state, dates, amounts)."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from invoicing.models import Invoice

from .services import REFERENCE_MAX


class RefundRejectForm(forms.Form):
    """拒绝: the reason is required and shown to the customer."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("The customer sees this reason in their refund list."),
    )


class RefundCompleteForm(forms.Form):
    """完成退款: the bank's or payment platform's reference, the day the money went back
    (default today) and, when the order's invoice is already issued, the reason code of the
    red-letter invoice that will reverse it."""

    reference = forms.CharField(
        label=_("Refund reference"),
        max_length=REFERENCE_MAX,
        help_text=_("The bank's or payment platform's transaction number of the refund."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 30}),
    )
    refunded_on = forms.DateField(
        label=_("Refund date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    red_reason = forms.ChoiceField(
        label=_("Red-letter reason"),
        choices=Invoice.RedReason.choices,
        help_text=_("Why the red-letter invoice reverses the issued one."),
    )

    def __init__(self, *args, red_reason_default: str | None = None, **kwargs):
        """`red_reason_default`: None when no red-letter invoice follows (the field is left
        out), else the reason preselected."""
        kwargs.setdefault("initial", {"refunded_on": timezone.localdate(), "red_reason": red_reason_default})
        super().__init__(*args, **kwargs)
        if red_reason_default is None:
            del self.fields["red_reason"]
