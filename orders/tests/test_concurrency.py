"""Orders under concurrency, on PostgreSQL where row locks are real."""

import uuid

import pytest

from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from orders import services
from orders.models import Order, OrderEvent, OrderLine
from tests.support.helpers import run_concurrently

from .factories import DETAILS, agreement, order_in

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_fifty_concurrent_checkouts_get_distinct_numbers_and_gap_free_serials():
    service = ServiceFactory()
    terms = agreement()
    customers = [UserFactory() for _ in range(50)]
    profiles = [InvoiceProfileFactory(user=customer) for customer in customers]

    def checkout(i):
        return services.order_submit(
            customer=customers[i],
            items=[services.CheckoutItem(service.pk, 1), services.CheckoutItem(ServiceFactory().pk, 2)] if i % 5 == 0
            else [services.CheckoutItem(service.pk, 1)],
            invoice_profile=profiles[i],
            details=DETAILS,
            payment_method="third_party",
            agreement=terms,
            accepted_ip=None,
            checkout_token=uuid.uuid4(),
        )

    outcomes = run_concurrently(checkout, 50)
    assert all(isinstance(o, Order) for o in outcomes), [o for o in outcomes if not isinstance(o, Order)][:3]
    assert len({o.number for o in outcomes}) == 50
    serials = sorted(OrderLine.objects.values_list("serial", flat=True))
    assert len(serials) == 60
    sequence = [int(s[6:]) for s in serials]
    assert sequence == list(range(1, 61))  # unique and gap-free
    assert len({s[:6] for s in serials}) == 1


def test_ten_concurrent_confirmations_make_one_transition_and_one_event():
    order = order_in(Order.Status.IN_TRADE)
    outcomes = run_concurrently(lambda i: services.order_confirm_receipt(order=order, actor=order.customer), 10)
    assert all(isinstance(o, Order) and o.status == Order.Status.SUCCESS for o in outcomes), outcomes
    assert OrderEvent.objects.filter(order=order, action="confirm_receipt").count() == 1


def test_concurrent_cancel_and_approve_leave_one_consistent_outcome():
    order = order_in(Order.Status.AWAITING_PAYMENT)
    staff = UserFactory(staff=True)
    moves = [
        lambda: services.order_cancel(order=order, actor=order.customer),
        lambda: services.order_approve(order=order, actor=staff),
    ]
    outcomes = run_concurrently(lambda i: moves[i](), 2)
    order.refresh_from_db()
    winners = [o for o in outcomes if isinstance(o, Order)]
    assert len(winners) == 1
    assert order.status in (Order.Status.FAILED, Order.Status.IN_TRADE)
    assert order.events.exclude(action="submit").count() == 1


def test_double_submit_of_one_checkout_makes_one_order():
    customer = UserFactory()
    profile = InvoiceProfileFactory(user=customer)
    service = ServiceFactory()
    token = uuid.uuid4()
    terms = agreement()
    outcomes = run_concurrently(
        lambda i: services.order_submit(
            customer=customer,
            items=[services.CheckoutItem(service.pk, 1)],
            invoice_profile=profile,
            details=DETAILS,
            payment_method="third_party",
            agreement=terms,
            accepted_ip=None,
            checkout_token=token,
        ),
        5,
    )
    assert all(isinstance(o, Order) for o in outcomes), outcomes
    assert len({o.pk for o in outcomes}) == 1
    assert Order.objects.filter(customer=customer).count() == 1
