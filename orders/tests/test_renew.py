"""续订 (renewal) at /account/orders/<number>/renew/: the checkout prefilled from a
completed order, submitted through the normal checkout.

The shop's strings are still being translated: these tests assert status codes, form
initial values, context data, message levels and database rows, not Chinese text.
"""

from decimal import Decimal

import pytest
from django.contrib.messages import constants, get_messages
from django.urls import reverse

from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from orders.models import CartItem, Order, OrderLine
from orders.tests.factories import DETAILS, RENEWED, agreement, order_in
from orders.views.account import Actions

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def customer(db):
    # Own contact data unlike RENEWED, so a prefill from the user instead of the order shows.
    return UserFactory(real_name="张三", mobile="+8613700137000", email="zhang@example.com")


@pytest.fixture
def default_profile(customer):
    return InvoiceProfileFactory(user=customer, is_default=True, title="上海默认抬头有限公司")


@pytest.fixture
def used_profile(customer, default_profile):
    """The (non-default) profile the renewed order was made with."""
    return InvoiceProfileFactory(user=customer, special=True, title="上海续订贸易有限公司")


@pytest.fixture
def services_(db):
    return ServiceFactory(standard_price=Decimal("1000.00")), ServiceFactory(standard_price=Decimal("300.00"))


@pytest.fixture
def order(customer, used_profile, services_):
    agreement()
    first, second = services_
    return order_in(
        Order.Status.SUCCESS,
        customer=customer,
        invoice_profile=used_profile,
        services_and_quantities=[(first, 2), (second, 3)],
        **RENEWED,
    )


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer, backend=MODEL_BACKEND)
    return client


def renew_url(order):
    return reverse("orders:renew", args=[order.number])


def levels(response):
    return [message.level for message in get_messages(response.wsgi_request)]


def submit_data(form, **overrides):
    """What the browser sends for the prefilled page, with the agreement accepted."""
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.pop("agreement_accepted", None)
    data.update({"agreement_accepted": "on", **overrides})
    return {name: str(value) for name, value in data.items()}


class TestRenewPage:
    def test_prefills_services_quantities_invoice_profile_and_details(self, signed_in, order, used_profile, services_):
        response = signed_in.get(renew_url(order))

        assert response.status_code == 200
        form = response.context["form"]
        first, second = services_
        assert [(service.pk, quantity) for service, quantity in form.lines] == [(first.pk, 2), (second.pk, 3)]
        assert form["invoice_profile"].value() == str(used_profile.pk)
        for name, value in RENEWED.items():
            expected = "" if name == "remarks" else value
            assert (form[name].value() or "") == expected, name
        assert not response.context["from_cart"]
        assert constants.INFO in levels(response)

    def test_prices_are_todays_catalog_prices(self, signed_in, order, services_):
        first, second = services_
        first.standard_price = Decimal("1500.00")
        first.save()

        response = signed_in.get(renew_url(order))

        rows = response.context["rows"]
        assert [row.unit_price for row in rows] == [Decimal("1500.00"), Decimal("300.00")]
        assert response.context["total"] == Decimal("3900.00")  # 2 × 1500 + 3 × 300
        assert order.lines.get(service=first).unit_price == Decimal("1000.00")

    def test_services_off_sale_are_dropped_with_a_message(self, signed_in, order, services_):
        first, second = services_
        second.active = False
        second.save()

        response = signed_in.get(renew_url(order))

        assert response.status_code == 200
        assert [(service.pk, quantity) for service, quantity in response.context["form"].lines] == [(first.pk, 2)]
        assert constants.WARNING in levels(response)

    def test_off_sale_platform_drops_its_services(self, signed_in, order, services_):
        first, _second = services_
        first.platform.active = False
        first.platform.save()

        response = signed_in.get(renew_url(order))

        assert [service.pk for service, _q in response.context["form"].lines] == [_second.pk]

    def test_no_service_left_returns_to_the_order(self, signed_in, order, services_):
        for service in services_:
            service.active = False
            service.save()
        orders_before = Order.objects.count()

        response = signed_in.get(renew_url(order))

        assert response.status_code == 302
        assert response["Location"] == order.get_absolute_url()
        assert constants.WARNING in levels(response)
        assert Order.objects.count() == orders_before

    def test_invoice_profile_gone_falls_back_to_the_default(self, signed_in, order, used_profile, default_profile):
        used_profile.delete()

        form = signed_in.get(renew_url(order)).context["form"]

        assert form["invoice_profile"].value() == str(default_profile.pk)
        assert form["contract_customer_name"].value() == RENEWED["contract_customer_name"]

    def test_invoice_profile_edited_since_is_still_found_by_its_buyer(self, signed_in, order, used_profile):
        used_profile.address = "上海市浦东新区新地址1号"
        used_profile.save()

        form = signed_in.get(renew_url(order)).context["form"]

        assert form["invoice_profile"].value() == str(used_profile.pk)

    def test_does_not_touch_the_list(self, signed_in, customer, order):
        kept = CartItem.objects.create(user=customer, service=ServiceFactory(), quantity=4)

        signed_in.get(renew_url(order))

        assert list(CartItem.objects.filter(user=customer).values_list("pk", "quantity")) == [(kept.pk, 4)]

    def test_needs_sign_in(self, client, order):
        response = client.get(renew_url(order))

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login") + "?next=")

    def test_another_customers_order_is_404(self, client, order):
        client.force_login(UserFactory(), backend=MODEL_BACKEND)

        assert client.get(renew_url(order)).status_code == 404
        assert client.post(renew_url(order), {}).status_code == 404

    def test_unknown_number_is_404(self, signed_in):
        assert signed_in.get(reverse("orders:renew", args=["BS-ZX000"])).status_code == 404

    @pytest.mark.parametrize("status", [Order.Status.AWAITING_PAYMENT, Order.Status.IN_TRADE, Order.Status.FAILED])
    def test_order_not_completed_redirects_with_a_message(self, signed_in, customer, status):
        other = order_in(status, customer=customer)
        orders_before = Order.objects.count()

        for response in (signed_in.get(renew_url(other)), signed_in.post(renew_url(other), {})):
            assert response.status_code == 302
            assert response["Location"] == other.get_absolute_url()
            assert constants.WARNING in levels(response)
        assert Order.objects.count() == orders_before


class TestRenewSubmit:
    def test_creates_one_new_order_with_the_lines_and_details(self, signed_in, customer, order, used_profile, services_):
        first, second = services_
        first.standard_price = Decimal("1200.00")
        first.save()
        form = signed_in.get(renew_url(order)).context["form"]
        data = submit_data(form)
        before = set(Order.objects.values_list("pk", flat=True))

        response = signed_in.post(renew_url(order), data)
        signed_in.post(renew_url(order), data)  # a double click makes no second order

        assert response.status_code == 302
        assert response["Location"] == reverse("orders:list") + "?tab=awaiting"
        new = Order.objects.exclude(pk__in=before)
        assert new.count() == 1
        renewed = new.get()
        assert renewed.customer == customer
        assert renewed.status == Order.Status.AWAITING_PAYMENT
        lines = list(renewed.lines.order_by("id").values_list("service_id", "quantity", "unit_price"))
        assert lines == [(first.pk, 2, Decimal("1200.00")), (second.pk, 3, Decimal("300.00"))]
        assert renewed.total == Decimal("3300.00")
        assert renewed.invoice_title == used_profile.title
        assert renewed.invoice_kind == "special"
        for name, value in RENEWED.items():
            assert getattr(renewed, name) == ("" if name == "remarks" else value), name
        assert renewed.payment_method == Order.PaymentMethod.THIRD_PARTY
        order.refresh_from_db()
        assert order.status == Order.Status.SUCCESS

    def test_posted_prices_are_ignored(self, signed_in, order, services_):
        first, second = services_
        data = submit_data(
            signed_in.get(renew_url(order)).context["form"],
            unit_price="0.01",
            total="0.01",
            **{f"price_{first.pk}": "0.01"},
        )
        before = set(Order.objects.values_list("pk", flat=True))

        signed_in.post(renew_url(order), data)

        assert Order.objects.exclude(pk__in=before).get().total == Decimal("2900.00")

    def test_quantities_can_be_changed_before_submitting(self, signed_in, order, services_):
        first, second = services_
        data = submit_data(signed_in.get(renew_url(order)).context["form"], **{f"quantity_{second.pk}": "1"})
        before = set(Order.objects.values_list("pk", flat=True))

        signed_in.post(renew_url(order), data)

        renewed = Order.objects.exclude(pk__in=before).get()
        assert list(renewed.lines.order_by("id").values_list("service_id", "quantity")) == [(first.pk, 2), (second.pk, 1)]

    def test_a_service_posted_that_the_order_lacks_is_not_ordered(self, signed_in, order, services_):
        stranger = ServiceFactory()
        data = submit_data(signed_in.get(renew_url(order)).context["form"], **{f"quantity_{stranger.pk}": "5"})
        before = set(Order.objects.values_list("pk", flat=True))

        signed_in.post(renew_url(order), data)

        renewed = Order.objects.exclude(pk__in=before).get()
        assert stranger.pk not in renewed.lines.values_list("service_id", flat=True)
        assert renewed.lines.count() == 2

    def test_a_service_off_sale_since_the_page_was_shown_shows_the_renewal_again(self, signed_in, order, services_):
        data = submit_data(signed_in.get(renew_url(order)).context["form"])
        services_[1].active = False
        services_[1].save()
        counts = Order.objects.count()

        response = signed_in.post(renew_url(order), data)

        assert response.status_code == 302
        assert response["Location"] == renew_url(order)
        assert Order.objects.count() == counts

    def test_bad_input_shows_errors_and_makes_nothing(self, signed_in, order):
        data = submit_data(signed_in.get(renew_url(order)).context["form"], reminder_email="not-an-email")
        data.pop("agreement_accepted")
        counts = (Order.objects.count(), OrderLine.objects.count())

        response = signed_in.post(renew_url(order), data)

        assert response.status_code == 200
        assert set(response.context["form"].errors) == {"reminder_email", "agreement_accepted"}
        assert (Order.objects.count(), OrderLine.objects.count()) == counts

    def test_another_customers_profile_cannot_be_posted(self, signed_in, order):
        foreign = InvoiceProfileFactory(user=UserFactory())
        data = submit_data(signed_in.get(renew_url(order)).context["form"], invoice_profile=str(foreign.pk))
        counts = Order.objects.count()

        response = signed_in.post(renew_url(order), data)

        assert response.status_code == 200
        assert "invoice_profile" in response.context["form"].errors
        assert Order.objects.count() == counts


class TestRenewAction:
    def test_offered_exactly_for_completed_orders(self, customer, order):
        assert Actions.of(order).renew
        for status in (Order.Status.AWAITING_PAYMENT, Order.Status.IN_TRADE, Order.Status.REJECTED):
            assert not Actions.of(order_in(status, customer=customer)).renew

    def test_link_on_my_orders_and_the_detail(self, signed_in, order):
        other = order_in(Order.Status.IN_TRADE, customer=order.customer)
        link = f'href="{renew_url(order)}" data-testid="renew-link"'

        listing = signed_in.get(reverse("orders:list")).content.decode()
        detail = signed_in.get(order.get_absolute_url()).content.decode()

        assert link in listing and link in detail
        assert renew_url(other) not in listing


def test_details_fixture_is_not_the_renewed_one():
    """Guards the tests above: a prefill from the factory defaults would not pass as the order's."""
    assert all(DETAILS[name] != value for name, value in RENEWED.items() if value)
