"""Money on invoices: splitting a tax-inclusive total and writing amounts in 大写."""

from decimal import ROUND_HALF_UP, Decimal

import cn2an

FEN = Decimal("0.01")


def money(value) -> Decimal:
    """`value` as CNY: a Decimal with two places, rounded half-up."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def tax_split(total, rate) -> tuple[Decimal, Decimal]:
    """(amount excluding tax, tax) of a tax-inclusive `total` at `rate` (e.g. 0.06):
    amount = total / (1 + rate) rounded half-up to the fen, tax = total − amount, so the
    two always add up to the total. Negative totals (red-letter invoices) split as the
    mirror image of the positive ones."""
    total, rate = money(total), Decimal(rate)
    if total < 0:
        amount, tax = tax_split(-total, rate)
        return -amount, -tax
    amount = money(total / (1 + rate))
    return amount, total - amount


def allocate(total, weights: list) -> list[Decimal]:
    """`total` split over `weights` in proportion, to the fen, adding up exactly (the
    rounding difference goes to the largest share). All-zero weights split evenly."""
    total = money(total)
    weights = [Decimal(weight) for weight in weights]
    if not weights:
        return []
    whole = sum(weights)
    if whole == 0:
        weights, whole = [Decimal(1)] * len(weights), Decimal(len(weights))
    shares = [money(total * weight / whole) for weight in weights]
    largest = max(range(len(shares)), key=lambda index: abs(weights[index]))
    shares[largest] += total - sum(shares)
    return shares


def amount_in_words(value) -> str:
    """人民币大写 of `value`: 2000.00 → 贰仟元整, 1234.56 → 壹仟贰佰叁拾肆元伍角陆分.
    A negative amount (a red-letter invoice) reads (负数)贰仟元整."""
    value = money(value)
    if value < 0:
        return "(负数)" + amount_in_words(-value)
    if value == 0:
        return "零元整"
    return cn2an.an2cn(f"{value:.2f}", "rmb")
