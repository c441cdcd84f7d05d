"""Money on invoices: splitting a tax-inclusive total and writing amounts in 大写
(rounding to the fen itself: mall/money.py)."""

from decimal import Decimal

import cn2an

from mall.money import money


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
    """`total` split over `weights` (not negative) in proportion, to the fen, adding up
    exactly: largest remainder, so every share has the sign of `total` and differs from
    its exact proportion by less than a fen. All-zero weights split evenly."""
    total = money(total)
    weights = [Decimal(weight) for weight in weights]
    if not weights:
        return []
    if any(weight < 0 for weight in weights):
        raise ValueError("weights must not be negative")
    whole = sum(weights)
    if whole == 0:
        weights, whole = [Decimal(1)] * len(weights), Decimal(len(weights))
    fen = int(abs(total) * 100)
    exact = [fen * weight / whole for weight in weights]
    shares = [int(share) for share in exact]  # floors: the shares are not negative
    by_remainder = sorted(range(len(weights)), key=lambda index: (exact[index] - shares[index], weights[index]), reverse=True)
    for index in by_remainder[: fen - sum(shares)]:
        shares[index] += 1
    sign = -1 if total < 0 else 1
    return [money(Decimal(sign * share) / 100) for share in shares]


def amount_in_words(value) -> str:
    """人民币大写 of `value`: 2000.00 → 贰仟元整, 1234.56 → 壹仟贰佰叁拾肆元伍角陆分.
    A negative amount (a red-letter invoice) reads (负数)贰仟元整."""
    value = money(value)
    if value < 0:
        return "(负数)" + amount_in_words(-value)
    if value == 0:
        return "零元整"
    return cn2an.an2cn(f"{value:.2f}", "rmb")
