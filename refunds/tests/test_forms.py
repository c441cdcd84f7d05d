"""提交退款's form on its own: the amount's bounds and formats, the reason, the
description and the contact mobile. The order is in memory (paid ¥2000.00, ¥500.00
already refunded: ¥1500.00 left); the form reads nothing else of it.

Messages are checked in English (the Chinese catalogue is filled separately).
"""

from decimal import Decimal

import pytest
from django.utils import translation

from accounts.models import User
from orders.models import Order
from refunds.forms import RefundRequestForm
from refunds.models import RefundRequest

R = RefundRequest.Reason


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def order():
    return Order(number="BS-ZX202605121200462141", paid_amount=Decimal("2000.00"), refunded_amount=Decimal("500.00"))


@pytest.fixture
def customer():
    return User(username="zhao", mobile="+8613800138000")


def form_for(order, customer, **data):
    values = {"amount": "100.00", "reason": R.UNWANTED, "description": "", "contact_mobile": "138 0013 8000"}
    return RefundRequestForm({**values, **data}, order=order, customer=customer)


def amount_error(order, customer, amount) -> str:
    form = form_for(order, customer, amount=amount)
    assert not form.is_valid()
    assert list(form.errors) == ["amount"]
    return " ".join(form.errors["amount"])


class TestDefaults:
    def test_amount_defaults_to_what_is_left_to_refund(self, order, customer):
        form = RefundRequestForm(order=order, customer=customer)

        assert form["amount"].value() == "1500.00"

    def test_amount_help_shows_paid_refunded_and_the_most_that_can_be_asked(self, order, customer):
        form = RefundRequestForm(order=order, customer=customer)

        help_text = str(form.fields["amount"].help_text)
        assert "¥2000.00" in help_text and "¥500.00" in help_text and "¥1500.00" in help_text

    def test_contact_mobile_defaults_to_the_customers_profile_mobile(self, order, customer):
        form = RefundRequestForm(order=order, customer=customer)

        assert form["contact_mobile"].value() == "+8613800138000"

    def test_reasons_are_the_four_of_the_guide(self, order, customer):
        form = RefundRequestForm(order=order, customer=customer)

        assert [value for value, _label in form.fields["reason"].choices] == [
            R.NOT_ACTIVATED, R.DUPLICATE, R.UNWANTED, R.OTHER
        ]


class TestAmount:
    @pytest.mark.parametrize(
        "amount, expected",
        [
            ("1500.00", Decimal("1500.00")),  # exactly what is left
            ("1500", Decimal("1500.00")),
            ("0.01", Decimal("0.01")),
            (" ¥1,234.5 ", Decimal("1234.50")),
            ("￥99.90", Decimal("99.90")),
            (".5", Decimal("0.50")),
            ("00100.10", Decimal("100.10")),
        ],
    )
    def test_a_plain_amount_up_to_the_remainder_is_taken_as_cny(self, order, customer, amount, expected):
        form = form_for(order, customer, amount=amount)

        assert form.is_valid(), form.errors
        assert form.cleaned_data["amount"] == expected
        assert form.cleaned_data["amount"].as_tuple().exponent == -2

    @pytest.mark.parametrize("amount", ["0", "0.00", "-1", "-0.01", "-" + "9" * 40])
    def test_nothing_or_less_is_refused(self, order, customer, amount):
        assert "more than ¥0.00" in amount_error(order, customer, amount)

    @pytest.mark.parametrize("amount", ["1500.01", "2000.00", "99999999", "1" * 11, "9" * 40, "9" * 40 + ".5"])
    def test_more_than_what_is_left_is_refused_with_the_limit(self, order, customer, amount):
        error = amount_error(order, customer, amount)

        assert "at most ¥1500.00" in error
        assert "paid ¥2000.00" in error and "already refunded ¥500.00" in error

    @pytest.mark.parametrize("amount", ["0.001", "1.999", "100.123"])
    def test_more_than_two_decimal_places_is_refused(self, order, customer, amount):
        assert "two decimal places" in amount_error(order, customer, amount)

    @pytest.mark.parametrize("amount", ["abc", "1e3", "1E3", "NaN", "Infinity", "-inf", "1.2.3", "12 34", "¥", ".", "0x10"])
    def test_anything_but_a_plain_number_is_refused(self, order, customer, amount):
        assert "as a number" in amount_error(order, customer, amount)

    def test_an_empty_amount_is_required(self, order, customer):
        form = form_for(order, customer, amount="")

        assert not form.is_valid()
        assert form.has_error("amount", "required")

    def test_after_a_full_refund_nothing_can_be_asked(self, customer):
        order = Order(paid_amount=Decimal("2000.00"), refunded_amount=Decimal("2000.00"))

        assert "at most ¥0.00" in amount_error(order, customer, "0.01")


class TestReasonAndDescription:
    @pytest.mark.parametrize("reason", [R.NOT_ACTIVATED, R.DUPLICATE, R.UNWANTED])
    def test_a_listed_reason_needs_no_description(self, order, customer, reason):
        assert form_for(order, customer, reason=reason).is_valid()

    @pytest.mark.parametrize("reason", ["", "bogus"])
    def test_a_reason_must_be_one_of_the_list(self, order, customer, reason):
        form = form_for(order, customer, reason=reason)

        assert not form.is_valid()
        assert list(form.errors) == ["reason"]

    @pytest.mark.parametrize("description", ["", "   \n "])
    def test_other_needs_a_description(self, order, customer, description):
        form = form_for(order, customer, reason=R.OTHER, description=description)

        assert not form.is_valid()
        assert list(form.errors) == ["description"]
        assert "Other" in form.errors["description"][0]

    def test_other_with_a_description_is_taken(self, order, customer):
        form = form_for(order, customer, reason=R.OTHER, description="店铺已关闭")

        assert form.is_valid()
        assert form.cleaned_data["description"] == "店铺已关闭"

    def test_a_description_of_500_characters_is_taken_and_501_refused(self, order, customer):
        assert form_for(order, customer, description="退" * 500).is_valid()

        form = form_for(order, customer, description="退" * 501)
        assert not form.is_valid()
        assert list(form.errors) == ["description"]


class TestContactMobile:
    def test_a_mobile_is_stored_in_e164(self, order, customer):
        form = form_for(order, customer, contact_mobile=" 139-0013-9000 ")

        assert form.is_valid()
        assert form.cleaned_data["contact_mobile"] == "+8613900139000"

    @pytest.mark.parametrize("mobile", ["", "12345", "021 6888 8888", "+1 650 253 0000", "abc"])
    def test_anything_but_a_mainland_mobile_is_refused(self, order, customer, mobile):
        form = form_for(order, customer, contact_mobile=mobile)

        assert not form.is_valid()
        assert list(form.errors) == ["contact_mobile"]
