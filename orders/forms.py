"""Checkout's forms: 店铺订购结算 (guide step 3) and the 清单's quantities.

My Orders' forms live in orders/forms_account.py.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.forms.utils import ErrorDict
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.forms import InvoiceProfileForm
from accounts.validators import cn_mobile_to_e164
from catalog.models import Service

from .models import Order
from .services import DETAIL_FIELDS, QUANTITY_MAX, REMARKS_MAX, CheckoutItem

NEW_INVOICE = "new"
NEW_INVOICE_PREFIX = "new_invoice"


def quantity_field(*, initial: int = 1, label: str = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        initial=initial,
        min_value=1,
        max_value=QUANTITY_MAX,
        widget=forms.NumberInput(attrs={"class": "form-control-sm quantity-input", "aria-label": _("Quantity")}),
    )


def unvalidated(form_class, data, *, prefix: str, **kwargs):
    """`form_class` showing what was typed into it, without checking it: a part of the
    page the customer did not choose (or is not submitting) shows no errors."""
    if data is None:
        return form_class(prefix=prefix, **kwargs)
    bound = form_class(data, prefix=prefix, **kwargs)
    typed = {name: bound[name].data for name in bound.fields}
    initial = {name: value for name, value in typed.items() if value is not None}
    return form_class(prefix=prefix, initial=initial, **kwargs)


class OrderDetailsForm(forms.ModelForm):
    """补充信息 and 备注 as a customer enters them (guide step 3). Every field is required
    but the second reminder email and the remarks."""

    remarks = forms.CharField(
        label=_("Remarks"),
        required=False,
        max_length=REMARKS_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Notes on payment, delivery or the invoice."),
    )

    class Meta:
        model = Order
        fields = list(DETAIL_FIELDS)
        help_texts = {
            "contract_customer_name": _("The same as the invoice title."),
            "marketplace_order_no": _("The same as the order number on the e-commerce platform's service market."),
            "store_name": _("The same as the store name on the platform."),
            "seller_nick": _("The seller's login name on the platform."),
            "service_engineer": _("Full name of your local service engineer."),
            "reminder_name": _("Real name of the person reminded before the service expires."),
            "reminder_mobile": _("A mainland China mobile number."),
            "reminder_email": _("The expiry reminder is sent to this address."),
            "reminder_cc_email": _("Optional: a second address that receives the reminder too."),
        }

    def clean_reminder_mobile(self):
        return cn_mobile_to_e164(self.cleaned_data["reminder_mobile"].strip())

    def details(self) -> dict:
        return {name: self.cleaned_data[name] for name in DETAIL_FIELDS}


@dataclass(frozen=True)
class ItemRow:
    """One line of the 商品清单 table, priced by the server; `subtotal` is None while
    the quantity typed for it is not valid."""

    service: Service
    field: forms.BoundField
    unit_price: Decimal
    discount: Decimal
    subtotal: Decimal | None


class CheckoutForm(OrderDetailsForm):
    """店铺订购结算: invoice details, 补充信息, 备注, a quantity per service, the agreement
    and the payment method, on one page.

    `lines` are the (service, quantity) pairs on offer, from the catalog or the 清单;
    prices never come from the form. `new_invoice` is the embedded InvoiceProfileForm
    for 添加一个新开票; it is checked only when the customer chooses it.
    """

    invoice_profile = forms.ChoiceField(label=_("Invoice details"), widget=forms.RadioSelect)
    agreement = forms.IntegerField(widget=forms.HiddenInput)
    agreement_accepted = forms.BooleanField(label=_("I have read and agree to the agreement above"))
    payment_method = forms.ChoiceField(
        label=_("Payment method"),
        choices=Order.PaymentMethod.choices,
        initial=Order.PaymentMethod.THIRD_PARTY,
        widget=forms.RadioSelect,
    )
    # One per checkout page: a repeated submit (double click, resend) returns the order it made.
    checkout_token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, data=None, *, user, profiles, agreement, lines, prefill=None):
        """`prefill` overrides the initial values (a renewal's: invoice profile and 补充信息)."""
        self.profiles = list(profiles)
        self.current_agreement = agreement
        self.lines = list(lines)
        preselected = next((p for p in self.profiles if p.is_default), self.profiles[0] if self.profiles else None)
        initial = {
            "invoice_profile": str(preselected.pk) if preselected else NEW_INVOICE,
            "contract_customer_name": preselected.title if preselected else "",
            "reminder_name": user.real_name,
            "reminder_mobile": user.mobile,
            "reminder_email": user.email,
            **(prefill or {}),
            "agreement": agreement.pk,
            "checkout_token": uuid.uuid4(),
        }
        super().__init__(data, initial=initial)
        self.fields["invoice_profile"].choices = [(str(p.pk), str(p)) for p in self.profiles] + [
            (NEW_INVOICE, _("Add a new invoice profile"))
        ]
        for service, quantity in self.lines:
            self.fields[self.quantity_name(service)] = quantity_field(initial=quantity)
        if self.wants_new_invoice and self.is_bound:
            self.new_invoice = InvoiceProfileForm(data, prefix=NEW_INVOICE_PREFIX)

    @cached_property
    def new_invoice(self) -> InvoiceProfileForm:
        """The embedded 添加一个新开票 form. Unless the customer submits it, it only shows
        what was typed, and is built when the page is (a placed order never needs it)."""
        return unvalidated(InvoiceProfileForm, self.data if self.is_bound else None, prefix=NEW_INVOICE_PREFIX)

    @staticmethod
    def quantity_name(service) -> str:
        return f"quantity_{service.pk}"

    @property
    def wants_new_invoice(self) -> bool:
        return self["invoice_profile"].value() == NEW_INVOICE

    def invoice_options(self) -> list[tuple]:
        """(profile, checked) for the radio list of saved invoice profiles."""
        chosen = str(self["invoice_profile"].value() or "")
        return [(profile, str(profile.pk) == chosen) for profile in self.profiles]

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if self.wants_new_invoice:
            valid = self.new_invoice.is_valid() and valid
        return valid

    def clean_invoice_profile(self):
        value = self.cleaned_data["invoice_profile"]
        if value == NEW_INVOICE:
            return NEW_INVOICE
        return next(p for p in self.profiles if str(p.pk) == value)  # ChoiceField allowed only these

    def clean_agreement(self):
        if self.cleaned_data["agreement"] != self.current_agreement.pk:
            raise forms.ValidationError(
                _("The store ordering agreement has changed. Please read and accept the current version."),
                code="stale_agreement",
            )
        return self.current_agreement

    def clean(self):
        cleaned_data = super().clean()
        if self.has_error("agreement") or self.has_error("checkout_token"):
            self.data = self.data.copy()
        if self.has_error("agreement"):
            # The box was ticked for another version: it must be ticked again for this one.
            self.data.pop(self.add_prefix("agreement_accepted"), None)
        if self.has_error("checkout_token"):
            # A missing or mangled token: the re-rendered page gets a new one, so it can be sent.
            self.data[self.add_prefix("checkout_token")] = str(uuid.uuid4())
        return cleaned_data

    def recalculate(self) -> None:
        """更新金额: check only the quantities, so the customer sees the new amounts rather
        than a page of errors for fields not filled in yet. Everything typed stays."""
        self.full_clean()
        quantities = {self.quantity_name(service) for service, _quantity in self.lines}
        self._errors = ErrorDict({name: errors for name, errors in self._errors.items() if name in quantities})
        self.new_invoice = unvalidated(InvoiceProfileForm, self.data, prefix=NEW_INVOICE_PREFIX)

    def items(self) -> list[CheckoutItem]:
        """The lines to price: each quantity as typed when it is valid, otherwise as offered."""
        cleaned = getattr(self, "cleaned_data", {})
        return [
            CheckoutItem(service.pk, cleaned.get(self.quantity_name(service)) or quantity)
            for service, quantity in self.lines
        ]

    def item_rows(self, priced: list[dict]) -> list[ItemRow]:
        """The 商品清单 rows for `priced` (services.order_price_lines of `items()`)."""
        rows = []
        for (service, _quantity), line in zip(self.lines, priced, strict=True):
            field = self[self.quantity_name(service)]
            valid = not (self.is_bound and field.errors)
            subtotal = line["subtotal"] if valid else None
            rows.append(ItemRow(service, field, line["unit_price"], line["discount"], subtotal))
        return rows

    def submission(self) -> dict:
        """The keyword arguments of services.order_checkout this form supplies."""
        data = self.cleaned_data
        new = data["invoice_profile"] == NEW_INVOICE
        return {
            "items": self.items(),
            "invoice_profile": None if new else data["invoice_profile"],
            "new_invoice_data": self.new_invoice.cleaned_data if new else None,
            "details": self.details(),
            "payment_method": data["payment_method"],
            "agreement": data["agreement"],
            "checkout_token": data["checkout_token"],
        }

    def add_new_invoice_errors(self, error: forms.ValidationError) -> None:
        """A ValidationError of accounts.services.invoice_profile_create beside the new profile's fields."""
        if hasattr(error, "error_dict"):
            for name, messages in error.message_dict.items():
                self.new_invoice.add_error(name if name in self.new_invoice.fields else None, messages)
        else:
            self.new_invoice.add_error(None, error)


class CartQuantityForm(forms.Form):
    """The quantity of one 清单 item."""

    quantity = quantity_field()
