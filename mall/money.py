"""Money in the shop: CNY as a Decimal with two places, rounded half-up, everywhere
(prices, order totals, invoices, refunds)."""

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")


def money(value) -> Decimal:
    """`value` as CNY: a Decimal with two places, rounded half-up."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)
