"""Money on invoices: the tax split of a tax-inclusive total, 大写, allocation over lines,
and the totals of a real multi-line order."""

from decimal import Decimal
from fractions import Fraction

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ServiceFactory
from invoicing import services
from invoicing.models import Invoice
from invoicing.money import allocate, amount_in_words, tax_split
from mall.money import money
from orders import services as order_services
from orders.models import Order
from orders.tests.factories import order_in, submitted_order

D = Decimal
pytestmark = pytest.mark.usefixtures("configured_signing_key")


def reference_split(total: str, rate: str) -> tuple[Decimal, Decimal]:
    """The split computed with exact fractions: amount = total / (1 + rate) rounded
    half away from zero to the fen (half-up on magnitudes), tax = total − amount."""
    exact = Fraction(total) * 100 / (1 + Fraction(rate))
    sign = -1 if exact < 0 else 1
    fen = sign * ((abs(exact) * 2 + 1) // 2)  # floor(|x| + 1/2)
    amount = D(int(fen)) / 100
    return amount.quantize(D("0.01")), (D(total) - amount).quantize(D("0.01"))


class TestTaxSplit:
    @pytest.mark.parametrize(
        "total, rate, amount, tax",
        [
            ("2000.00", "0.06", "1886.79", "113.21"),
            ("1234.56", "0.06", "1164.68", "69.88"),  # 1164.679245…
            ("0.01", "0.06", "0.01", "0.00"),  # 0.009433… rounds up to a fen, no tax left
            ("1.00", "0.06", "0.94", "0.06"),  # 0.943396…
            ("1060.00", "0.06", "1000.00", "60.00"),
            ("2000.00", "0.13", "1769.91", "230.09"),  # 1769.911504…
            ("1130.00", "0.13", "1000.00", "130.00"),
            ("2000.00", "0", "2000.00", "0.00"),
            ("0.00", "0.06", "0.00", "0.00"),
            ("-2000.00", "0.06", "-1886.79", "-113.21"),  # a red-letter invoice mirrors the original
            ("-1234.56", "0.13", "-1092.53", "-142.03"),  # 1092.530973…
        ],
    )
    def test_vectors(self, total, rate, amount, tax):
        assert tax_split(D(total), D(rate)) == (D(amount), D(tax))

    @pytest.mark.parametrize(
        "total, rate, amount",
        [
            # total / (1 + rate) ends in exactly 5 at the third place: half-up goes up,
            # where banker's rounding would go to the even fen.
            ("0.05", "1", "0.03"),  # 0.025 → 0.03 (half-even: 0.02)
            ("0.01", "1", "0.01"),  # 0.005 → 0.01 (half-even: 0.00)
            ("2.25", "0.5", "1.50"),  # exact, no rounding
            ("0.04", "0.6", "0.03"),  # 0.025 → 0.03 (half-even: 0.02)
            ("0.12", "0.6", "0.08"),  # 0.075 → 0.08 (same either way)
            ("-0.05", "1", "-0.03"),  # the mirror: away from zero
        ],
    )
    def test_an_exact_half_fen_rounds_up(self, total, rate, amount):
        assert tax_split(D(total), D(rate))[0] == D(amount)

    def test_at_six_and_thirteen_percent_it_matches_exact_fraction_arithmetic(self):
        """Every total from 0.01 to 30.00 and a spread of large ones, against the split
        computed with exact fractions: no double rounding in Decimal's division."""
        totals = [f"{cents / 100:.2f}" for cents in range(1, 3001)]
        totals += [f"{cents / 100:.2f}" for cents in range(99_999_900, 100_000_000, 7)]
        for rate in ("0.06", "0.13", "0.09", "0.03"):
            for total in totals:
                assert tax_split(D(total), D(rate)) == reference_split(total, rate), (total, rate)

    def test_amount_plus_tax_is_always_the_total(self):
        for cents in range(-500, 5000, 7):
            total = D(cents) / 100
            for rate in (D("0.06"), D("0.13"), D("0")):
                amount, tax = tax_split(total, rate)
                assert amount + tax == total
                assert amount.as_tuple().exponent == -2 and tax.as_tuple().exponent == -2

    def test_a_total_with_more_places_is_first_rounded_half_up_to_the_fen(self):
        assert money("2000.005") == D("2000.01")
        assert money("-2000.005") == D("-2000.01")
        assert tax_split("2000.004", "0.06") == (D("1886.79"), D("113.21"))


class TestAmountInWords:
    @pytest.mark.parametrize(
        "value, words",
        [
            ("2000.00", "贰仟元整"),
            ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
            ("0.01", "壹分"),
            ("0.10", "壹角"),
            ("1.00", "壹元整"),
            ("10.05", "壹拾元零伍分"),
            ("100.01", "壹佰元零壹分"),
            ("1005.50", "壹仟零伍元伍角"),
            ("1000000.00", "壹佰万元整"),
            ("113.21", "壹佰壹拾叁元贰角壹分"),
            ("0", "零元整"),
            ("-2000.00", "(负数)贰仟元整"),
            ("-0.01", "(负数)壹分"),
        ],
    )
    def test_vectors(self, value, words):
        assert amount_in_words(D(value)) == words

    def test_rounds_half_up_to_the_fen_first(self):
        assert amount_in_words("0.005") == "壹分"
        assert amount_in_words("1999.995") == "贰仟元整"


class TestAllocate:
    def test_proportional_shares_that_add_up_exactly(self):
        assert allocate("2000.00", ["1000", "1000"]) == [D("1000.00"), D("1000.00")]
        assert allocate("100.00", ["1", "3"]) == [D("25.00"), D("75.00")]

    def test_the_rounding_difference_goes_to_the_largest_remainders(self):
        assert allocate("100.00", ["1", "1", "1"]) == [D("33.34"), D("33.33"), D("33.33")]
        assert allocate("0.05", ["1", "2", "1"]) == [D("0.01"), D("0.03"), D("0.01")]

    def test_many_awkward_splits_add_up_and_stay_near_their_proportion(self):
        weights_sets = [["1", "1", "1"], ["0.01", "999.99"], ["7", "11", "13", "17", "19"], ["1"] * 9, ["3.33", "0", "6.67"]]
        for cents in (1, 2, 99, 100, 101, 9_999, 123_457, 99_999_999):
            total = D(cents) / 100
            for weights in weights_sets:
                shares = allocate(total, weights)
                assert sum(shares) == total, (total, weights)
                whole = sum(D(w) for w in weights)
                for share, weight in zip(shares, weights):
                    assert abs(share - total * D(weight) / whole) <= D("0.01") * len(weights)

    def test_zero_weights_split_evenly_and_no_weights_give_nothing(self):
        assert allocate("1.00", ["0", "0", "0"]) == [D("0.34"), D("0.33"), D("0.33")]
        assert allocate("1.00", []) == []

    def test_a_negative_total_splits_as_the_mirror(self):
        assert allocate("-100.00", ["1", "1", "1"]) == [D("-33.34"), D("-33.33"), D("-33.33")]

    def test_every_share_keeps_the_sign_of_the_total_even_when_it_is_tiny(self):
        """A red-letter invoice of a few fen over many lines: no line turns positive."""
        for total in ("-0.04", "0.04", "-0.01", "-1.00"):
            shares = allocate(total, ["1"] * 6)
            assert sum(shares) == D(total)
            assert all(share <= 0 for share in shares) if D(total) < 0 else all(share >= 0 for share in shares)
            assert all(share == share.quantize(D("0.01")) for share in shares)

    def test_negative_weights_are_refused(self):
        with pytest.raises(ValueError):
            allocate("1.00", ["1", "-1"])


@pytest.mark.django_db
class TestOrderTotals:
    """The invoice of a confirmed order with lines at different rates."""

    @pytest.fixture
    def order(self):
        six = ServiceFactory(standard_price=D("2000.00"), tax_rate=D("0.06"))
        thirteen = ServiceFactory(standard_price=D("1130.00"), tax_rate=D("0.13"))
        zero = ServiceFactory(standard_price=D("99.99"), tax_rate=D("0"))
        return order_in(
            Order.Status.SUCCESS, services_and_quantities=[(six, 1), (thirteen, 2), (zero, 3)]
        )

    def test_each_line_is_split_at_its_service_rate_and_the_invoice_adds_up(self, order):
        services.documents_generate(order_id=order.pk)
        invoice = Invoice.objects.get(order=order)

        lines = [(line.total, line.tax_rate, line.amount, line.tax) for line in invoice.lines.all()]
        assert lines == [
            (D("2000.00"), D("0.060"), D("1886.79"), D("113.21")),
            (D("2260.00"), D("0.130"), D("2000.00"), D("260.00")),
            (D("299.97"), D("0.000"), D("299.97"), D("0.00")),
        ]
        assert invoice.total == order.total == D("4559.97")
        assert invoice.amount == D("4186.76") and invoice.tax == D("373.21")
        assert invoice.amount + invoice.tax == invoice.total
        assert invoice.total_in_words == "肆仟伍佰伍拾玖元玖角柒分"
        assert invoice.tax_rates == [D("0.000"), D("0.060"), D("0.130")]
        assert [line.unit_price for line in invoice.lines.all()] == [D("1886.79"), D("1000.00"), D("99.99")]

    def test_a_partly_paid_order_shares_the_paid_amount_over_its_lines(self):
        six = ServiceFactory(standard_price=D("1000.00"), tax_rate=D("0.06"))
        thirteen = ServiceFactory(standard_price=D("2000.00"), tax_rate=D("0.13"))
        order = submitted_order(services_and_quantities=[(six, 1), (thirteen, 1)])
        order = order_services.order_approve(order=order, actor=UserFactory(staff=True), paid_amount=D("1000.00"))
        order_services.order_confirm_receipt(order=order, actor=order.customer)

        computed = services.invoice_lines_compute(lines=order.lines.select_related("service"), total=order.paid_amount)

        assert [line["total"] for line in computed] == [D("333.33"), D("666.67")]
        assert sum(line["amount"] + line["tax"] for line in computed) == D("1000.00")
        assert [(line["amount"], line["tax"]) for line in computed] == [
            (D("314.46"), D("18.87")),  # 333.33 / 1.06 = 314.462…
            (D("589.97"), D("76.70")),  # 666.67 / 1.13 = 589.973…
        ]

    def test_the_database_refuses_an_invoice_whose_amount_and_tax_do_not_add_up(self, order):
        services.documents_generate(order_id=order.pk)
        invoice = Invoice.objects.get(order=order)

        with pytest.raises(IntegrityError), transaction.atomic():
            Invoice.objects.filter(pk=invoice.pk).update(tax=F("tax") + D("0.01"))

        invoice.refresh_from_db()
        assert invoice.amount + invoice.tax == invoice.total
