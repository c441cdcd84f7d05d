"""Forms of the order admin's review pages. They parse what staff type; the services
decide whether the move is allowed."""

from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import MONEY


class OrderApproveForm(forms.Form):
    """审核通过: the amount received (default the order total) and the day the service
    periods start (default today, Asia/Shanghai)."""

    paid_amount = forms.DecimalField(
        label=_("Paid amount"),
        min_value=Decimal("0.00"),
        decimal_places=MONEY["decimal_places"],
        max_digits=MONEY["max_digits"],
        help_text=_("The amount received, at most the order total."),
    )
    service_start = forms.DateField(
        label=_("Service start"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Each line's service period starts on this day; its end follows from the service's length."),
    )

    # The order as the reviewer saw it: approving refuses if the customer changed it since.
    seen = forms.DateTimeField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, order, **kwargs):
        kwargs.setdefault(
            "initial", {"paid_amount": order.total, "service_start": timezone.localdate(), "seen": order.updated_at}
        )
        super().__init__(*args, **kwargs)
        paid = self.fields["paid_amount"]
        paid.validators.append(MaxValueValidator(order.total))
        paid.widget.attrs["max"] = order.total


class OrderReasonForm(forms.Form):
    """驳回 or 关闭订单: the reason is required; a rejection's reason is shown to the customer."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
    )
