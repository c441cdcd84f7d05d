"""Properties of any sequence of refund attempts on one order (Hypothesis).

Each example makes a fresh order (one to three services; in trade, or confirmed with
or without its documents) inside a transaction it rolls back, then runs attempts:
an amount, valid or not, asked by the customer and then completed, rejected or
withdrawn; finance may issue the pending invoices between attempts. After every step:

- an amount is accepted exactly when 0 < amount ≤ paid − refunded with at most two
  places, and a refused one changes nothing;
- the order's refunded amount is the sum of its completed refunds, never more than
  paid; the order is 已退款 exactly when that sum equals the paid amount, otherwise
  back where it started; at most one refund is open;
- the invoices (invoicing.services.invoices_after_refund): the ones not voided add up
  to paid − refunded (red-letter ones count negative); at most one original or
  re-issue is in force; a red-letter invoice is negative, corrects an invoice that was
  issued, and no invoice is corrected beyond its own total; a re-issue replaces a
  voided invoice; a reversed invoice has an issued red-letter one; every invoice adds
  up (amount + tax = total, and over its lines).
"""

from decimal import Decimal, InvalidOperation

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from catalog.tests.factories import ServiceFactory
from invoicing import services as invoicing_services
from invoicing.models import DocumentJob, Invoice
from invoicing.tests.conftest import configured_signing_key, invoice_number, signing_pair  # noqa: F401 (fixtures)
from orders import services as order_services
from orders.models import Order, OrderEvent
from refunds import services
from refunds.exceptions import RefundError
from refunds.models import RefundRequest

from .factories import MOBILE, finance_user, refundable_order

S = Order.Status
I = Invoice.Status  # noqa: E741
P = Invoice.Purpose
R = RefundRequest.Status
FEN = Decimal("0.01")

RATES = [Decimal("0"), Decimal("0.06"), Decimal("0.13")]

# Amounts named relative to the order at the time of the attempt.
REMAINDER, HALF, ONE_FEN, OVER = "remainder", "half", "one fen", "remainder + 0.01"

lines_st = st.lists(
    st.tuples(
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3000"), places=2),
        st.integers(min_value=1, max_value=3),
        st.sampled_from(RATES),
    ),
    min_size=1,
    max_size=3,
)
amount_st = st.one_of(
    st.sampled_from([REMAINDER, HALF, ONE_FEN, OVER]),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3000"), places=2).map(str),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("300"), places=2),  # a Decimal, not a string
    st.decimals(min_value=Decimal("-50"), max_value=Decimal("50"), places=3).map(str),  # some with a third place
    st.integers(min_value=-5, max_value=5000).map(str),
    st.sampled_from(["0", "-0", "0.00", "0.001", "0.005", "1e2", "1E-2", "1e30", "NaN", "Infinity", "abc", ""]),
)
# (amount, what finance or the customer does with it, whether finance first issues
# the pending invoices)
step_st = st.tuples(amount_st, st.sampled_from(["complete", "complete", "reject", "withdraw"]), st.booleans())


def expected_amount(value, left: Decimal) -> Decimal | None:
    """The amount the customer may ask for by the rules (0 < amount ≤ what is left, two
    places at most), or None when it must be refused."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0 or amount > left:
        return None
    return amount if amount == amount.quantize(FEN) else None


def resolve(amount, order: Order):
    left = order.paid_amount - order.refunded_amount
    return {
        REMAINDER: str(left),
        HALF: str((left / 2).quantize(FEN)),
        ONE_FEN: "0.01",
        OVER: str(left + FEN),
    }.get(amount, amount) if isinstance(amount, str) else amount


def snapshot(order):
    order = Order.objects.get(pk=order.pk)
    return (
        order.status,
        order.refunded_amount,
        order.events.count(),
        list(order.refunds.values_list("pk", "status")),
        list(order.invoices.values_list("pk", "status")),
    )


def issue_pending(order, finance, numbers):
    today = timezone.localdate()
    for invoice in Invoice.objects.filter(order=order, status=I.PENDING).order_by("id"):
        number = invoice_number(today, next(numbers))
        invoicing_services.invoice_issue(invoice=invoice, actor=finance, number=number, issued_on=today)


def assert_invariants(order: Order, start: str, *, documents: bool):
    order.refresh_from_db()
    refunds = list(order.refunds.all())
    completed = [r.amount for r in refunds if r.status == R.COMPLETED]

    assert Decimal("0") <= order.refunded_amount <= order.paid_amount
    assert order.refunded_amount == sum(completed, Decimal("0.00"))
    assert (order.status == S.REFUNDED) == (order.refunded_amount == order.paid_amount)
    if order.status != S.REFUNDED:
        assert order.status == start  # no refund is open between attempts
    assert not [r for r in refunds if r.is_open]
    assert OrderEvent.objects.filter(order=order, action="complete_refund").count() == len(completed)
    assert OrderEvent.objects.filter(order=order, action="request_refund").count() == len(refunds)

    invoices = list(order.invoices.prefetch_related("lines").order_by("created_at", "id"))
    if not documents:
        assert not invoices
        return
    by_pk = {i.pk: i for i in invoices}
    kept = [i for i in invoices if i.status != I.CANCELLED]
    assert sum((i.total for i in kept), Decimal("0.00")) == order.paid_amount - order.refunded_amount
    assert len([i for i in invoices if i.purpose != P.RED_LETTER and i.status not in (I.CANCELLED, I.REVERSED)]) <= 1
    for invoice in invoices:
        lines = list(invoice.lines.all())
        assert invoice.amount + invoice.tax == invoice.total
        assert sum(line.total for line in lines) == invoice.total
        assert sum(line.amount for line in lines) == invoice.amount
        assert sum(line.tax for line in lines) == invoice.tax
        if invoice.purpose == P.RED_LETTER:
            corrected = by_pk[invoice.original_id]
            assert invoice.total < 0 and invoice.red_reason
            assert corrected.purpose != P.RED_LETTER and corrected.status in (I.ISSUED, I.DELIVERED, I.REVERSED)
            assert all(line.quantity < 0 and line.unit_price >= 0 for line in lines)
        else:
            assert invoice.total > 0
            reds = [r for r in invoices if r.original_id == invoice.pk and r.purpose == P.RED_LETTER]
            assert invoice.total + sum(r.total for r in reds) >= 0
            if invoice.status == I.REVERSED:
                assert any(r.status == I.ISSUED for r in reds)
            if invoice.status == I.CANCELLED:
                assert not reds
        if invoice.purpose == P.REISSUE:
            assert by_pk[invoice.original_id].status == I.CANCELLED
            assert by_pk[invoice.original_id].purpose != P.RED_LETTER


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # nothing written under the project; failures print their example
)
@given(
    items=lines_st,
    start=st.sampled_from(["in_trade", "confirmed", "with_documents", "with_documents"]),
    steps=st.lists(step_st, min_size=1, max_size=6),
)
# Cases found before: a refund after a partial red-letter invoice was issued (the
# original then reversed in part), and an amount beyond the decimal context.
@example(
    items=[(Decimal("2000.00"), 1, Decimal("0"))],
    start="with_documents",
    steps=[(amount, "complete", True) for amount in (HALF, HALF, ONE_FEN, REMAINDER)],
)
@example(
    items=[(Decimal("2000.00"), 1, Decimal("0"))],
    start="confirmed",
    steps=[("1e30", "complete", False), (OVER, "complete", False)],
)
def test_any_sequence_of_refunds_never_refunds_more_than_paid_and_keeps_the_invoices_consistent(
    configured_signing_key, items, start, steps  # noqa: F811
):
    numbers = iter(range(1, 10**6))
    with transaction.atomic():  # each example starts from the same database
        status = S.IN_TRADE if start == "in_trade" else S.SUCCESS
        order = refundable_order(
            status,
            documents=start == "with_documents",
            items=[(ServiceFactory(standard_price=price, tax_rate=rate), quantity) for price, quantity, rate in items],
        )
        finance = finance_user()
        documents = start == "with_documents"
        assert_invariants(order, status, documents=documents)

        for amount, outcome, issue_first in steps:
            order.refresh_from_db()
            if order.status == S.REFUNDED:
                break
            if issue_first and documents:
                issue_pending(order, finance, numbers)
            amount = resolve(amount, order)
            expected = expected_amount(amount, order.paid_amount - order.refunded_amount)
            before = snapshot(order)
            try:
                refund = services.refund_request(
                    order=order, actor=order.customer, amount=amount, reason="other", contact_mobile=MOBILE
                )
            except RefundError:
                assert expected is None, f"{amount!r} refused"
                assert snapshot(order) == before
                continue
            assert expected is not None, f"{amount!r} accepted"
            assert refund.amount == expected
            if outcome == "withdraw":
                services.refund_withdraw(refund=refund, actor=order.customer)
            elif outcome == "reject":
                services.refund_reject(refund=refund, actor=finance, reason="不符合条件")
            else:
                services.refund_approve(refund=refund, actor=finance)
                services.refund_complete(
                    refund=refund, actor=finance, reference=f"R{next(numbers)}", refunded_on=timezone.localdate()
                )
            assert_invariants(order, status, documents=documents)

        if not documents:
            # The documents come after the refunds: the invoice is for what is left.
            # An order refunded in full while in trade was never confirmed: it has none.
            order.refresh_from_db()
            if order.status == S.IN_TRADE:
                order_services.order_confirm_receipt(order=order, actor=order.customer)
            if DocumentJob.objects.filter(order=order).exists():
                invoicing_services.documents_generate(order_id=order.pk)
                assert_invariants(order, S.SUCCESS, documents=True)
            else:
                assert order.status == S.REFUNDED and start == "in_trade"
                assert_invariants(order, status, documents=False)
        transaction.set_rollback(True)
