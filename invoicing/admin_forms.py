"""Forms of the finance pages in the invoice admin. They parse what finance types;
invoicing.services decides whether the move is allowed (and checks the PDF's bytes)."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .validators import validate_invoice_number


class InvoiceIssueForm(forms.Form):
    """开票: the 20-digit 数电发票 number, the issue date (default today) and, optionally,
    the official invoice PDF, which then replaces the information sheet for the customer."""

    number = forms.CharField(
        label=_("Invoice number"),
        max_length=40,  # spaces between digit groups are allowed and removed
        help_text=_("The 20-digit number of the fully digital invoice (数电发票)."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "size": 26}),
    )
    issued_on = forms.DateField(
        label=_("Issue date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    official_pdf = forms.FileField(
        label=_("Official invoice PDF"),
        required=False,
        help_text=_("Optional. A PDF of at most 10 MB; the customer then downloads it instead of the information sheet."),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"issued_on": timezone.localdate()})
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        number, issued_on = cleaned.get("number"), cleaned.get("issued_on")
        if number is not None:
            try:
                cleaned["number"] = validate_invoice_number(number, issued_on=issued_on)
            except ValidationError as error:
                self.add_error("number", error)
        return cleaned


class InvoiceDeliverForm(forms.Form):
    """已寄出: the tracking number of the mailed paper invoice, shown to the customer."""

    tracking_number = forms.CharField(
        label=_("Tracking number"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 30}),
    )
