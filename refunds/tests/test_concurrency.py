"""Refunds under concurrency, on PostgreSQL where row locks are real: the order's row
lock (taken first by every step) and the one-open-refund constraint make concurrent
calls wait and then find the new state. Commits are real here (transaction=True): the
documents of a confirmed order and the sheets of new invoices are made on commit."""

from decimal import Decimal
from functools import partial

import pytest
from django.utils import timezone

from invoicing import services as invoicing_services
from invoicing.models import Invoice
from invoicing.tests.conftest import configured_signing_key, invoice_number, signing_pair  # noqa: F401 (fixtures)
from orders import services as order_services
from orders.exceptions import OrderError
from orders.models import Order, OrderEvent
from refunds import services
from refunds.exceptions import RefundError
from refunds.models import RefundRequest
from tests.support.helpers import run_concurrently

from .factories import MOBILE, finance_user, refund_requested, refundable_order

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("configured_signing_key"),
]

S = Order.Status
R = RefundRequest.Status


def actions(order, action):
    return OrderEvent.objects.filter(order=order, action=action).count()


def split(outcomes, kind):
    won = [o for o in outcomes if isinstance(o, kind)]
    refused = [o for o in outcomes if isinstance(o, RefundError)]
    assert len(won) + len(refused) == len(outcomes), outcomes  # nothing else (no IntegrityError, no deadlock)
    return won, refused


def test_concurrent_requests_of_different_amounts_make_exactly_one_refund():
    order = refundable_order(S.SUCCESS)
    amounts = ["100.00", "200.00", "300.00", "400.00", "500.00", "600.00"]

    outcomes = run_concurrently(
        lambda i: services.refund_request(
            order=order, actor=order.customer, amount=amounts[i], reason="unwanted", contact_mobile=MOBILE
        ),
        len(amounts),
    )

    won, refused = split(outcomes, RefundRequest)
    assert len(won) == 1 and len(refused) == len(amounts) - 1, outcomes
    refund = RefundRequest.objects.get(order=order)  # exactly one, or this raises
    assert refund.pk == won[0].pk and str(refund.amount) in amounts
    assert actions(order, "request_refund") == 1
    assert Order.objects.get(pk=order.pk).status == S.REFUNDING


def test_the_same_request_sent_twice_at_once_makes_one_refund():
    order = refundable_order(S.SUCCESS)
    outcomes = run_concurrently(lambda i: refund_requested(order, "300.00"), 2)
    won, refused = split(outcomes, RefundRequest)
    assert refused == [] and len({o.pk for o in won}) == 1, outcomes
    assert RefundRequest.objects.filter(order=order).count() == 1
    assert actions(order, "request_refund") == 1


@pytest.mark.parametrize("issued", [False, True], ids=["invoice pending", "invoice issued"])
def test_concurrent_completions_of_one_refund_refund_once(issued):
    order = refundable_order(S.SUCCESS)
    finance = finance_user()
    today = timezone.localdate()
    if issued:
        original = Invoice.objects.get(order=order)
        number = invoice_number(today, 1)
        invoicing_services.invoice_issue(invoice=original, actor=finance, number=number, issued_on=today)
    refund = refund_requested(order, "500.00")
    services.refund_approve(refund=refund, actor=finance)

    outcomes = run_concurrently(
        lambda i: services.refund_complete(refund=refund, actor=finance, reference=f"REF-{i}", refunded_on=today), 4
    )

    won, refused = split(outcomes, RefundRequest)
    assert refused == [] and all(o.status == R.COMPLETED for o in won), outcomes
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (S.SUCCESS, Decimal("500.00"))
    assert actions(order, "complete_refund") == 1
    refund.refresh_from_db()
    assert refund.reference in {f"REF-{i}" for i in range(4)}
    new = Invoice.objects.filter(order=order).exclude(purpose=Invoice.Purpose.ORIGINAL)
    if issued:
        assert [(i.purpose, i.total) for i in new] == [(Invoice.Purpose.RED_LETTER, Decimal("-500.00"))]
    else:
        assert [(i.purpose, i.total) for i in new] == [(Invoice.Purpose.REISSUE, Decimal("1500.00"))]
        assert Invoice.objects.get(order=order, purpose=Invoice.Purpose.ORIGINAL).status == Invoice.Status.CANCELLED
    assert all(i.sheet for i in new)  # made after the winner's commit


def test_concurrent_withdraw_and_approve_leave_one_consistent_outcome():
    for _round in range(3):  # either may win; each round must end consistent
        order = refundable_order(S.SUCCESS, documents=False)
        finance = finance_user()
        refund = refund_requested(order, "300.00")
        moves = [
            partial(services.refund_withdraw, refund=refund, actor=order.customer),
            partial(services.refund_approve, refund=refund, actor=finance),
        ]

        outcomes = run_concurrently(lambda i, moves=moves: moves[i](), 2)

        won, refused = split(outcomes, RefundRequest)
        assert len(won) == 1 and len(refused) == 1, outcomes
        refund.refresh_from_db()
        order.refresh_from_db()
        if refund.status == R.WITHDRAWN:
            assert isinstance(outcomes[1], RefundError)
            assert order.status == S.SUCCESS
            assert (actions(order, "withdraw_refund"), actions(order, "approve_refund")) == (1, 0)
        else:
            assert refund.status == R.APPROVED and isinstance(outcomes[0], RefundError)
            assert order.status == S.REFUNDING
            assert (actions(order, "withdraw_refund"), actions(order, "approve_refund")) == (0, 1)


def test_concurrent_reject_and_approve_leave_one_consistent_outcome():
    order = refundable_order(S.SUCCESS, documents=False)
    finance = finance_user()
    refund = refund_requested(order, "300.00")
    moves = [
        lambda: services.refund_reject(refund=refund, actor=finance, reason="不符合条件"),
        lambda: services.refund_approve(refund=refund, actor=finance),
    ]

    outcomes = run_concurrently(lambda i: moves[i](), 2)

    won, refused = split(outcomes, RefundRequest)
    assert len(won) == 1 and len(refused) == 1, outcomes
    refund.refresh_from_db()
    order.refresh_from_db()
    expected = {R.REJECTED: S.SUCCESS, R.APPROVED: S.REFUNDING}
    assert order.status == expected[refund.status]
    assert actions(order, "reject_refund") + actions(order, "approve_refund") == 1


def test_a_request_racing_the_receipt_confirmation_remembers_where_the_order_was():
    order = refundable_order(S.IN_TRADE)
    moves = [
        lambda: refund_requested(order, "300.00"),
        lambda: order_services.order_confirm_receipt(order=order, actor=order.customer),
    ]

    outcomes = run_concurrently(lambda i: moves[i](), 2)

    order.refresh_from_db()
    refund = RefundRequest.objects.get(order=order)
    assert isinstance(outcomes[0], RefundRequest), outcomes
    if isinstance(outcomes[1], Order):  # confirmed first, then asked
        assert refund.order_status_before == S.SUCCESS
    else:  # asked first: 退款中 cannot be confirmed
        assert isinstance(outcomes[1], OrderError) and refund.order_status_before == S.IN_TRADE
    assert order.status == S.REFUNDING
    services.refund_withdraw(refund=refund, actor=order.customer)
    assert Order.objects.get(pk=order.pk).status == refund.order_status_before
