"""Forms of My Orders: the search above the list and 修改信息 (modify an order under review).

Checkout's forms live in orders/forms.py.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import InvoiceProfile

from .forms import OrderDetailsForm
from .selectors import OrderSearch, tab_key_for

DATE_WIDGET = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}


class OrderSearchForm(forms.Form):
    """订单号 and 下单时间 from–to; the tab is carried along so a search stays in its tab."""

    tab = forms.CharField(required=False, widget=forms.HiddenInput)
    number = forms.CharField(
        label=_("Order number"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("Main order number or transaction serial")}),
    )
    start = forms.DateField(label=_("Ordered from"), required=False, widget=forms.DateInput(**DATE_WIDGET))
    end = forms.DateField(label=_("Ordered until"), required=False, widget=forms.DateInput(**DATE_WIDGET))

    def __init__(self, data=None, *args, **kwargs):
        # A link by order status (`?status=success`) opens that status's tab, and the
        # search then carries the tab on.
        if data is not None and not data.get("tab") and data.get("status"):
            data = data.copy()
            data["tab"] = tab_key_for(data["status"])
        super().__init__(data, *args, **kwargs)

    def clean_tab(self):
        # An unknown tab (a hand-edited URL) shows all orders rather than an error.
        return tab_key_for(self.cleaned_data["tab"])

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end date is before the start date."))
        return cleaned

    def search(self) -> OrderSearch:
        """The filters that validated. A date range with an error in it filters nothing,
        rather than half of it silently applying."""
        self.is_valid()  # cleans once; an invalid form keeps the fields that did validate
        data = self.cleaned_data
        dates_ok = not ({"start", "end"} & set(self.errors))
        return OrderSearch(
            tab=data.get("tab") or None,
            number=data.get("number", ""),
            start=data.get("start") if dates_ok else None,
            end=data.get("end") if dates_ok else None,
        )

    def query(self) -> dict[str, str]:
        """The filters in effect, as URL parameters for page links."""
        search = self.search()
        query = {"tab": search.tab, "number": search.number.strip(), "start": search.start, "end": search.end}
        return {name: str(value) for name, value in query.items() if value}


class OrderEditForm(OrderDetailsForm):
    """修改信息: the supplementary info, checked as at checkout, and optionally another saved
    invoice profile whose details replace the order's invoice snapshot."""

    invoice_profile = forms.ModelChoiceField(
        label=_("Invoice details"),
        queryset=InvoiceProfile.objects.none(),
        required=False,
        empty_label=_("Keep this order's invoice details"),
        help_text=_("Choose one of your saved invoice profiles to replace the invoice details of this order."),
    )

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invoice_profile"].queryset = customer.invoice_profiles.all()
