"""Every /account/orders/… URL shows only the signed-in customer's own orders: anyone
else's order (by main number or line serial) answers 404, never 403, and changes nothing."""

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from orders.models import Order, OrderEvent
from orders.tests.factories import DETAILS, order_in, submitted_order

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
S = Order.Status
ORDER_URLS = ["detail", "edit", "cancel", "confirm"]
# B's order in each state where some action would be allowed to its owner.
B_STATES = [S.AWAITING_PAYMENT, S.REJECTED, S.IN_TRADE]


@pytest.fixture
def customer_a(db):
    return UserFactory()


@pytest.fixture
def customer_b(db):
    return UserFactory()


@pytest.fixture
def client_a(client, customer_a):
    client.force_login(customer_a, backend=MODEL_BACKEND)
    return client


def snapshot(order):
    return Order.objects.values().get(pk=order.pk), list(OrderEvent.objects.filter(order=order).values())


def post_data(order):
    return {**{name: getattr(order, name) for name in DETAILS}, "store_name": "被篡改", "invoice_profile": ""}


@pytest.mark.parametrize("status", B_STATES)
@pytest.mark.parametrize("name", ORDER_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_customers_order_is_404_and_unchanged(client_a, customer_b, status, name, method):
    order_b = order_in(status, customer=customer_b)
    before = snapshot(order_b)

    response = getattr(client_a, method)(reverse(f"orders:{name}", args=[order_b.number]), post_data(order_b))

    assert response.status_code == 404
    assert snapshot(order_b) == before


@pytest.mark.parametrize("name", ORDER_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_line_serial_in_place_of_the_number_is_404(client_a, customer_a, customer_b, name, method):
    serial_b = submitted_order(customer=customer_b).lines.get().serial
    serial_a = submitted_order(customer=customer_a).lines.get().serial

    for serial in (serial_b, serial_a):
        assert getattr(client_a, method)(reverse(f"orders:{name}", args=[serial])).status_code == 404


@pytest.mark.parametrize("name", ORDER_URLS)
def test_staff_see_no_customers_order_on_customer_pages(client, customer_b, name):
    order_b = order_in(S.IN_TRADE, customer=customer_b)
    client.force_login(UserFactory(staff=True, superuser=True), backend=MODEL_BACKEND)
    before = snapshot(order_b)

    assert client.post(reverse(f"orders:{name}", args=[order_b.number]), post_data(order_b)).status_code == 404
    assert snapshot(order_b) == before


@pytest.mark.parametrize("name", ORDER_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_are_sent_to_sign_in(client, customer_b, name, method):
    order_b = order_in(S.IN_TRADE, customer=customer_b)
    path = reverse(f"orders:{name}", args=[order_b.number])
    before = snapshot(order_b)

    response = getattr(client, method)(path, post_data(order_b))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")
    assert snapshot(order_b) == before


def test_list_shows_only_the_customers_own_orders_and_counts(client_a, customer_a, customer_b):
    mine = submitted_order(customer=customer_a)
    for status in B_STATES:
        order_in(status, customer=customer_b)

    response = client_a.get(reverse("orders:list"))

    assert [order.number for order, _actions in response.context["rows"]] == [mine.number]
    assert {tab.key: tab.count for tab in response.context["tabs"]}[""] == 1
    assert {tab.key: tab.count for tab in response.context["tabs"]}["in_trade"] == 0
    for order_b in Order.objects.filter(customer=customer_b):
        assert order_b.number not in response.text


@pytest.mark.parametrize("by", ["number", "serial"])
def test_searching_for_another_customers_order_finds_nothing(client_a, customer_a, customer_b, by):
    submitted_order(customer=customer_a)
    order_b = submitted_order(customer=customer_b)
    term = order_b.number if by == "number" else order_b.lines.get().serial

    response = client_a.get(reverse("orders:list"), {"number": term})

    assert response.status_code == 200
    assert list(response.context["rows"]) == []
    assert f'data-order="{order_b.number}"' not in response.text
    assert f'href="{order_b.get_absolute_url()}"' not in response.text
