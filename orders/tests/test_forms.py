"""Checkout's forms on their own: what they accept, refuse and hand to the services."""

import uuid
from decimal import Decimal

import pytest

from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from orders.forms import CartQuantityForm, CheckoutForm
from orders.services import CheckoutItem
from orders.tests.factories import DETAILS, AgreementFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def profiles(customer):
    return [
        InvoiceProfileFactory(user=customer, title="甲公司"),
        InvoiceProfileFactory(user=customer, title="乙公司", is_default=True),
    ]


@pytest.fixture
def agreement(db):
    return AgreementFactory()


@pytest.fixture
def services_(db):
    return [ServiceFactory(), ServiceFactory(standard_price=Decimal("300.00"))]


def make_form(data, *, customer, profiles, agreement, lines):
    return CheckoutForm(data, user=customer, profiles=profiles, agreement=agreement, lines=lines)


def valid_data(*, profile, agreement, lines, **overrides):
    data = {
        "invoice_profile": str(profile.pk) if profile else "new",
        **DETAILS,
        "agreement": str(agreement.pk),
        "agreement_accepted": "on",
        "payment_method": "third_party",
        "checkout_token": str(uuid.uuid4()),
    }
    data.update({f"quantity_{service.pk}": str(quantity) for service, quantity in lines})
    data.update(overrides)
    return data


class TestCheckoutFormInitial:
    def test_the_default_profile_is_preselected_and_names_the_contract(self, customer, profiles, agreement, services_):
        form = make_form(None, customer=customer, profiles=profiles, agreement=agreement, lines=[(services_[0], 1)])
        default = profiles[1]
        assert form["invoice_profile"].value() == str(default.pk)
        assert form["contract_customer_name"].value() == default.title
        assert form["agreement"].value() == agreement.pk
        assert form["payment_method"].value() == "third_party"

    def test_without_a_default_the_first_profile_is_preselected(self, customer, agreement, services_):
        only = InvoiceProfileFactory(user=customer)
        form = make_form(None, customer=customer, profiles=[only], agreement=agreement, lines=[(services_[0], 1)])
        assert form["invoice_profile"].value() == str(only.pk)

    def test_a_quantity_field_per_line_starting_at_its_quantity(self, customer, profiles, agreement, services_):
        lines = [(services_[0], 2), (services_[1], 5)]
        form = make_form(None, customer=customer, profiles=profiles, agreement=agreement, lines=lines)
        assert [form[f"quantity_{s.pk}"].value() for s, _q in lines] == [2, 5]
        assert form.items() == [CheckoutItem(services_[0].pk, 2), CheckoutItem(services_[1].pk, 5)]

    def test_no_field_takes_a_price(self, customer, profiles, agreement, services_):
        form = make_form(None, customer=customer, profiles=profiles, agreement=agreement, lines=[(services_[0], 1)])
        assert not [name for name in form.fields if "price" in name or name in {"total", "subtotal", "discount"}]


class TestCheckoutFormValidation:
    @pytest.fixture
    def lines(self, services_):
        return [(services_[0], 1)]

    def form(self, data, customer, profiles, agreement, lines):
        return make_form(data, customer=customer, profiles=profiles, agreement=agreement, lines=lines)

    def test_valid_data_gives_the_services_arguments(self, customer, profiles, agreement, lines):
        data = valid_data(profile=profiles[0], agreement=agreement, lines=lines, reminder_mobile="13800138000")
        form = self.form(data, customer, profiles, agreement, lines)
        assert form.is_valid(), form.errors
        submission = form.submission()
        assert submission["invoice_profile"] == profiles[0]
        assert submission["new_invoice_data"] is None
        assert submission["agreement"] == agreement
        assert submission["checkout_token"] == uuid.UUID(data["checkout_token"])
        assert submission["items"] == [CheckoutItem(lines[0][0].pk, 1)]
        assert submission["details"]["reminder_mobile"] == "+8613800138000"
        assert set(submission["details"]) == set(DETAILS)

    @pytest.mark.parametrize(
        "field",
        [
            "contract_customer_name",
            "marketplace_order_no",
            "store_name",
            "seller_nick",
            "service_engineer",
            "reminder_name",
            "reminder_mobile",
            "reminder_email",
            "invoice_profile",
            "agreement_accepted",
            "payment_method",
            "checkout_token",
            "agreement",
        ],
    )
    def test_each_required_field(self, customer, profiles, agreement, lines, field):
        data = valid_data(profile=profiles[0], agreement=agreement, lines=lines)
        del data[field]
        form = self.form(data, customer, profiles, agreement, lines)
        assert not form.is_valid()
        assert form.has_error(field)

    def test_the_second_email_and_remarks_are_optional(self, customer, profiles, agreement, lines):
        data = valid_data(profile=profiles[0], agreement=agreement, lines=lines)
        del data["reminder_cc_email"], data["remarks"]
        assert self.form(data, customer, profiles, agreement, lines).is_valid()

    def test_remarks_are_at_most_500_characters(self, customer, profiles, agreement, lines):
        ok = valid_data(profile=profiles[0], agreement=agreement, lines=lines, remarks="x" * 500)
        assert self.form(ok, customer, profiles, agreement, lines).is_valid()
        too_long = valid_data(profile=profiles[0], agreement=agreement, lines=lines, remarks="x" * 501)
        assert self.form(too_long, customer, profiles, agreement, lines).has_error("remarks")

    @pytest.mark.parametrize("quantity, valid", [("1", True), ("99", True), ("0", False), ("100", False), ("abc", False)])
    def test_quantity_is_1_to_99(self, customer, profiles, agreement, lines, quantity, valid):
        data = valid_data(profile=profiles[0], agreement=agreement, lines=lines)
        data[f"quantity_{lines[0][0].pk}"] = quantity
        form = self.form(data, customer, profiles, agreement, lines)
        assert form.is_valid() is valid
        if not valid:
            assert form.items() == [CheckoutItem(lines[0][0].pk, 1)]  # priced as offered meanwhile

    def test_a_stale_agreement_must_be_ticked_again(self, customer, profiles, agreement, lines):
        newer = AgreementFactory()
        data = valid_data(profile=profiles[0], agreement=agreement, lines=lines)
        form = self.form(data, customer, profiles, newer, lines)
        assert not form.is_valid()
        assert form.has_error("agreement", code="stale_agreement")
        assert form["agreement_accepted"].value() is False
        assert data["agreement_accepted"] == "on"  # the caller's data is not changed

    def test_a_mangled_token_is_replaced_for_the_next_submit(self, customer, profiles, agreement, lines):
        data = valid_data(profile=profiles[0], agreement=agreement, lines=lines, checkout_token="x")
        form = self.form(data, customer, profiles, agreement, lines)
        assert not form.is_valid() and form.has_error("checkout_token")
        assert uuid.UUID(form["checkout_token"].value())

    def test_a_profile_outside_the_list_is_refused(self, customer, profiles, agreement, lines):
        stranger = InvoiceProfileFactory()
        data = valid_data(profile=stranger, agreement=agreement, lines=lines)
        assert self.form(data, customer, profiles, agreement, lines).has_error("invoice_profile")


class TestNewInvoiceSubForm:
    NEW = {
        "new_invoice-kind": "ordinary",
        "new_invoice-title_type": "company",
        "new_invoice-title": "新公司",
        "new_invoice-taxpayer_id": "9131 0000 1345 1114 8l",
    }

    @pytest.fixture
    def lines(self, services_):
        return [(services_[0], 1)]

    def test_chosen_it_is_checked_and_handed_over(self, customer, profiles, agreement, lines):
        data = {**valid_data(profile=None, agreement=agreement, lines=lines), **self.NEW}
        form = make_form(data, customer=customer, profiles=profiles, agreement=agreement, lines=lines)
        assert form.is_valid(), (form.errors, form.new_invoice.errors)
        submission = form.submission()
        assert submission["invoice_profile"] is None
        assert submission["new_invoice_data"]["title"] == "新公司"
        assert submission["new_invoice_data"]["taxpayer_id"] == "91310000134511148L"

    def test_chosen_and_invalid_the_whole_form_is_invalid(self, customer, profiles, agreement, lines):
        data = {**valid_data(profile=None, agreement=agreement, lines=lines), **self.NEW, "new_invoice-title": ""}
        form = make_form(data, customer=customer, profiles=profiles, agreement=agreement, lines=lines)
        assert not form.is_valid()
        assert not form.errors  # the checkout fields are fine …
        assert form.new_invoice.has_error("title")  # … the new profile is not

    def test_not_chosen_it_is_neither_checked_nor_used(self, customer, profiles, agreement, lines):
        data = {**valid_data(profile=profiles[0], agreement=agreement, lines=lines), "new_invoice-title": "半填"}
        form = make_form(data, customer=customer, profiles=profiles, agreement=agreement, lines=lines)
        assert form.is_valid()
        assert form.submission()["new_invoice_data"] is None
        assert not form.new_invoice.errors
        assert form.new_invoice["title"].value() == "半填"

    def test_without_saved_profiles_it_is_the_choice(self, customer, agreement, lines):
        form = make_form(None, customer=customer, profiles=[], agreement=agreement, lines=lines)
        assert form.wants_new_invoice


class TestRecalculate:
    def test_only_quantity_errors_remain(self, customer, profiles, agreement, services_):
        lines = [(services_[0], 1), (services_[1], 1)]
        data = {f"quantity_{services_[0].pk}": "4", f"quantity_{services_[1].pk}": "abc"}
        form = make_form(data, customer=customer, profiles=profiles, agreement=agreement, lines=lines)
        form.recalculate()
        assert set(form.errors) == {f"quantity_{services_[1].pk}"}
        assert form.items() == [CheckoutItem(services_[0].pk, 4), CheckoutItem(services_[1].pk, 1)]


class TestCartQuantityForm:
    @pytest.mark.parametrize("quantity, valid", [("1", True), ("99", True), ("0", False), ("100", False), ("abc", False)])
    def test_quantity_is_1_to_99(self, quantity, valid):
        assert CartQuantityForm({"quantity": quantity}).is_valid() is valid
