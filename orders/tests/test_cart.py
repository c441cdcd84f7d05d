"""The 清单 (list): services added from their pages and checked out together as one main
order with a line per service; its writes are orders.services."""

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from pytest_django.asserts import assertTemplateUsed

from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.models import Service
from catalog.tests.factories import ServiceFactory
from orders import services
from orders.exceptions import OrderError
from orders.models import CartItem, Order
from orders.tests.factories import DETAILS, AgreementFactory

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer, backend=MODEL_BACKEND)
    return client


@pytest.fixture
def service(db):
    return ServiceFactory(standard_price=Decimal("2000.00"))


@pytest.fixture
def cheap(db):
    return ServiceFactory(standard_price=Decimal("500.00"))


class TestCartServices:
    def test_add_puts_the_service_on_the_list(self, customer, service):
        item = services.cart_add(user=customer, service_id=service.pk)
        assert (item.user, item.service, item.quantity) == (customer, service, 1)

    def test_adding_again_adds_to_the_quantity_up_to_99(self, customer, service):
        services.cart_add(user=customer, service_id=service.pk, quantity=60)
        assert services.cart_add(user=customer, service_id=service.pk, quantity=2).quantity == 62
        assert services.cart_add(user=customer, service_id=service.pk, quantity=60).quantity == 99
        assert CartItem.objects.count() == 1

    def test_a_service_not_on_sale_cannot_be_added(self, customer):
        with pytest.raises(Service.DoesNotExist):
            services.cart_add(user=customer, service_id=ServiceFactory(module__active=False).pk)
        assert not CartItem.objects.exists()

    @pytest.mark.parametrize("quantity", [0, 100, -1])
    def test_add_and_update_refuse_quantities_out_of_range(self, customer, service, quantity):
        with pytest.raises(OrderError):
            services.cart_add(user=customer, service_id=service.pk, quantity=quantity)
        item = services.cart_add(user=customer, service_id=service.pk)
        with pytest.raises(OrderError):
            services.cart_update(user=customer, item_id=item.pk, quantity=quantity)
        item.refresh_from_db()
        assert item.quantity == 1

    def test_update_sets_the_quantity(self, customer, service):
        item = services.cart_add(user=customer, service_id=service.pk)
        services.cart_update(user=customer, item_id=item.pk, quantity=7)
        item.refresh_from_db()
        assert item.quantity == 7

    def test_another_users_item_cannot_be_updated_or_removed(self, customer, service):
        item = services.cart_add(user=UserFactory(), service_id=service.pk)
        with pytest.raises(CartItem.DoesNotExist):
            services.cart_update(user=customer, item_id=item.pk, quantity=2)
        with pytest.raises(CartItem.DoesNotExist):
            services.cart_remove(user=customer, item_id=item.pk)
        item.refresh_from_db()
        assert item.quantity == 1

    def test_remove_deletes_the_item(self, customer, service):
        item = services.cart_add(user=customer, service_id=service.pk)
        services.cart_remove(user=customer, item_id=item.pk)
        assert not CartItem.objects.exists()


class TestServicePageButton:
    def test_a_customer_gets_an_add_to_list_form(self, signed_in, service):
        text = signed_in.get(service.get_absolute_url()).text
        assert f'action="{reverse("orders:cart-add", args=[service.pk])}"' in text
        assert 'data-testid="add-to-list"' in text
        assert 'data-testid="buy-now"' in text

    def test_a_visitor_is_sent_to_sign_in_and_back_to_the_service(self, client, service):
        text = client.get(service.get_absolute_url()).text
        assert f'href="{reverse("accounts:login")}?next={service.get_absolute_url()}" data-testid="add-to-list"' in text


class TestCartAdd:
    def test_post_adds_and_shows_the_list(self, signed_in, customer, service):
        response = signed_in.post(reverse("orders:cart-add", args=[service.pk]))
        assert response.status_code == 302 and response["Location"] == reverse("orders:cart")
        assert CartItem.objects.get().user == customer

    def test_a_signed_out_post_signs_in_and_comes_back_to_the_service(self, client, service):
        response = client.post(reverse("orders:cart-add", args=[service.pk]))
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('accounts:login')}?next={service.get_absolute_url()}"
        assert not CartItem.objects.exists()

    def test_a_get_adds_nothing_and_returns_to_the_service(self, signed_in, service):
        response = signed_in.get(reverse("orders:cart-add", args=[service.pk]))
        assert response["Location"] == service.get_absolute_url()
        assert not CartItem.objects.exists()

    def test_an_inactive_or_unknown_service_is_not_found(self, signed_in):
        assert signed_in.post(reverse("orders:cart-add", args=[ServiceFactory(active=False).pk])).status_code == 404
        assert signed_in.post(reverse("orders:cart-add", args=[999999])).status_code == 404
        assert not CartItem.objects.exists()


class TestCartPage:
    def test_needs_sign_in(self, client):
        response = client.get(reverse("orders:cart"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))

    def test_lists_only_the_customers_items_with_amounts(self, signed_in, customer, service, cheap):
        services.cart_add(user=customer, service_id=service.pk, quantity=2)
        services.cart_add(user=customer, service_id=cheap.pk)
        services.cart_add(user=UserFactory(), service_id=ServiceFactory().pk)
        response = signed_in.get(reverse("orders:cart"))
        rows = response.context["rows"]
        assert [(row["service"], row["quantity"], row["subtotal"]) for row in rows] == [
            (service, 2, Decimal("4000.00")),
            (cheap, 1, Decimal("500.00")),
        ]
        assert response.context["total"] == Decimal("4500.00")
        assert f'href="{reverse("orders:checkout-cart")}"' in response.text

    def test_an_empty_list_says_so(self, signed_in):
        response = signed_in.get(reverse("orders:cart"))
        assert response.context["rows"] == []
        assert 'data-testid="cart-empty"' in response.text

    def test_a_service_gone_off_sale_is_not_listed(self, signed_in, customer, service):
        services.cart_add(user=customer, service_id=service.pk)
        Service.objects.filter(pk=service.pk).update(active=False)
        assert signed_in.get(reverse("orders:cart")).context["rows"] == []


class TestCartUpdateAndRemove:
    def test_update_changes_the_quantity(self, signed_in, customer, service):
        item = services.cart_add(user=customer, service_id=service.pk)
        response = signed_in.post(reverse("orders:cart-update", args=[item.pk]), {"quantity": "5"})
        assert response["Location"] == reverse("orders:cart")
        item.refresh_from_db()
        assert item.quantity == 5

    @pytest.mark.parametrize("quantity", ["0", "100", "abc", ""])
    def test_a_bad_quantity_is_shown_beside_the_item_and_changes_nothing(self, signed_in, customer, service, quantity):
        item = services.cart_add(user=customer, service_id=service.pk, quantity=3)
        response = signed_in.post(reverse("orders:cart-update", args=[item.pk]), {"quantity": quantity})
        assert response.status_code == 200
        assertTemplateUsed(response, "orders/cart.html")
        [row] = response.context["rows"]
        assert row["form"].has_error("quantity")
        assert row["form"]["quantity"].value() == quantity
        item.refresh_from_db()
        assert item.quantity == 3

    @pytest.mark.parametrize("quantity", ["5", "abc"])
    def test_another_users_item_is_not_found(self, signed_in, service, quantity):
        item = services.cart_add(user=UserFactory(), service_id=service.pk, quantity=3)
        assert signed_in.post(reverse("orders:cart-update", args=[item.pk]), {"quantity": quantity}).status_code == 404
        assert signed_in.post(reverse("orders:cart-remove", args=[item.pk])).status_code == 404
        item.refresh_from_db()
        assert item.quantity == 3

    def test_remove_takes_the_item_off(self, signed_in, customer, service):
        item = services.cart_add(user=customer, service_id=service.pk)
        response = signed_in.post(reverse("orders:cart-remove", args=[item.pk]))
        assert response["Location"] == reverse("orders:cart")
        assert not CartItem.objects.exists()

    def test_update_and_remove_are_post_only(self, signed_in, customer, service):
        item = services.cart_add(user=customer, service_id=service.pk)
        assert signed_in.get(reverse("orders:cart-update", args=[item.pk])).status_code == 405
        assert signed_in.get(reverse("orders:cart-remove", args=[item.pk])).status_code == 405
        assert CartItem.objects.count() == 1


class TestCartCheckout:
    @pytest.fixture
    def listed(self, customer, service, cheap):
        services.cart_add(user=customer, service_id=service.pk, quantity=2)
        services.cart_add(user=customer, service_id=cheap.pk)
        return [service, cheap]

    @pytest.fixture
    def agreement(self, db):
        return AgreementFactory()

    def data(self, customer, agreement, services, token=None, **quantities):
        profile = customer.invoice_profiles.first() or InvoiceProfileFactory(user=customer, is_default=True)
        data = {
            "invoice_profile": str(profile.pk),
            **DETAILS,
            "agreement": str(agreement.pk),
            "agreement_accepted": "on",
            "payment_method": "third_party",
            "checkout_token": str(token or uuid.uuid4()),
        }
        for service in services:
            data[f"quantity_{service.pk}"] = quantities.get(f"q{service.pk}", "1")
        return data

    def test_an_empty_list_goes_back_to_the_list(self, signed_in, agreement):
        response = signed_in.get(reverse("orders:checkout-cart"))
        assert response["Location"] == reverse("orders:cart")

    def test_the_form_offers_every_item_at_its_list_quantity(self, signed_in, listed, agreement):
        response = signed_in.get(reverse("orders:checkout-cart"))
        rows = response.context["rows"]
        assert [(row.service, row.field.value(), row.subtotal) for row in rows] == [
            (listed[0], 2, Decimal("4000.00")),
            (listed[1], 1, Decimal("500.00")),
        ]
        assert response.context["total"] == Decimal("4500.00")

    def test_checkout_makes_one_order_with_a_line_per_service_and_empties_the_list(
        self, signed_in, customer, listed, agreement
    ):
        service, cheap = listed
        data = self.data(customer, agreement, listed, **{f"q{service.pk}": "3", f"q{cheap.pk}": "1"})
        response = signed_in.post(reverse("orders:checkout-cart"), data)
        assert response["Location"] == reverse("orders:list") + "?tab=awaiting"
        order = Order.objects.get()
        assert [(line.service, line.quantity, line.subtotal) for line in order.lines.all()] == [
            (service, 3, Decimal("6000.00")),
            (cheap, 1, Decimal("500.00")),
        ]
        assert order.total == Decimal("6500.00")
        assert not CartItem.objects.filter(user=customer).exists()

    def test_a_bad_quantity_keeps_the_list_and_creates_nothing(self, signed_in, customer, listed, agreement):
        data = self.data(customer, agreement, listed, **{f"q{listed[1].pk}": "0"})
        response = signed_in.post(reverse("orders:checkout-cart"), data)
        assert response.status_code == 200
        assert response.context["form"].has_error(f"quantity_{listed[1].pk}")
        assert not Order.objects.exists()
        assert CartItem.objects.filter(user=customer).count() == 2

    def test_a_repeated_submit_returns_the_order_the_first_made(self, signed_in, customer, listed, agreement):
        data = self.data(customer, agreement, listed)
        first = signed_in.post(reverse("orders:checkout-cart"), data)
        second = signed_in.post(reverse("orders:checkout-cart"), data)  # the list is empty by now
        assert first["Location"] == second["Location"] == reverse("orders:list") + "?tab=awaiting"
        assert Order.objects.count() == 1

    def test_a_submit_with_an_empty_list_is_refused(self, signed_in, customer, agreement):
        response = signed_in.post(reverse("orders:checkout-cart"), self.data(customer, agreement, []))
        assert response.status_code == 200
        assert response.context["form"].non_field_errors()
        assert not Order.objects.exists()

    def test_another_users_list_is_not_checked_out(self, signed_in, customer, agreement, service):
        services.cart_add(user=UserFactory(), service_id=service.pk)
        assert signed_in.get(reverse("orders:checkout-cart"))["Location"] == reverse("orders:cart")
        assert CartItem.objects.count() == 1

    def test_an_item_gone_off_sale_stays_on_the_list(self, signed_in, customer, listed, agreement):
        service, cheap = listed
        Service.objects.filter(pk=cheap.pk).update(active=False)
        response = signed_in.post(reverse("orders:checkout-cart"), self.data(customer, agreement, [service]))
        assert response.status_code == 302
        assert [line.service for line in Order.objects.get().lines.all()] == [service]
        assert list(CartItem.objects.filter(user=customer).values_list("service", flat=True)) == [cheap.pk]
