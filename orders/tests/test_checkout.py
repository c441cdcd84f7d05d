"""店铺订购结算 (guide step 3) through its URLs: /checkout/<service id>/ and the form's rules.

The shop's own strings are still being translated, so these tests assert status codes,
form fields in error, context data and database rows, never the Chinese UI text.
"""

import re
import uuid
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertTemplateUsed

from accounts.models import InvoiceProfile, Message
from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from orders import selectors, services
from orders.exceptions import OrderError
from orders.models import DailySerial, Order, OrderLine
from orders.tests.factories import DETAILS, AgreementFactory
from tests.support.helpers import run_concurrently

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
REQUIRED_DETAILS = [
    "contract_customer_name",
    "marketplace_order_no",
    "store_name",
    "seller_nick",
    "service_engineer",
    "reminder_name",
    "reminder_mobile",
    "reminder_email",
]
NEW_PROFILE = {
    "new_invoice-kind": "ordinary",
    "new_invoice-title_type": "company",
    "new_invoice-title": "杭州新开票科技有限公司",
    "new_invoice-taxpayer_id": "91310000134511148L",
    "new_invoice-contact": "赵六",
    "new_invoice-contact_phone": "139 0013 9000",
}


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def profile(customer):
    """The customer's default invoice profile."""
    return InvoiceProfileFactory(user=customer, is_default=True, title="上海云测贸易有限公司")


@pytest.fixture
def other_profile(customer):
    return InvoiceProfileFactory(user=customer, special=True, title="上海云测二号有限公司")


@pytest.fixture
def agreement(db):
    return AgreementFactory()


@pytest.fixture
def service(db):
    return ServiceFactory(standard_price=Decimal("2000.00"))


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer, backend=MODEL_BACKEND)
    return client


def url(service):
    return reverse("orders:checkout", args=[service.pk])


def checkout_data(*, service, agreement, profile=None, token=None, quantity="1", **overrides):
    """A complete checkout POST: a saved profile when given, else 添加一个新开票."""
    data = {
        "invoice_profile": str(profile.pk) if profile else "new",
        **DETAILS,
        "reminder_mobile": "138 0013 8000",
        f"quantity_{service.pk}": quantity,
        "agreement": str(agreement.pk),
        "agreement_accepted": "on",
        "payment_method": "third_party",
        "checkout_token": str(token or uuid.uuid4()),
    }
    if profile is None:
        data.update(NEW_PROFILE)
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def counts():
    """Rows a checkout may create: orders, lines, profiles, messages, serial counters."""
    return (
        Order.objects.count(),
        OrderLine.objects.count(),
        InvoiceProfile.objects.count(),
        Message.objects.count(),
        DailySerial.objects.count(),
    )


class TestCheckoutPage:
    def test_needs_sign_in(self, client, service):
        response = client.get(url(service))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login") + "?next=")

    def test_unknown_service_is_not_found(self, signed_in, agreement):
        assert signed_in.get(reverse("orders:checkout", args=[999999])).status_code == 404

    def test_inactive_service_is_not_found(self, signed_in, agreement, profile):
        hidden = ServiceFactory(active=False)
        assert signed_in.get(url(hidden)).status_code == 404
        response = signed_in.post(url(hidden), checkout_data(service=hidden, agreement=agreement, profile=profile))
        assert response.status_code == 404
        assert Order.objects.count() == 0

    def test_service_of_an_inactive_platform_is_not_found(self, signed_in, agreement):
        service = ServiceFactory(platform__active=False)
        assert signed_in.get(url(service)).status_code == 404

    def test_default_profile_is_preselected(self, signed_in, service, agreement, other_profile, profile):
        response = signed_in.get(url(service))
        form = response.context["form"]
        assert form["invoice_profile"].value() == str(profile.pk)
        assert [(p.pk, checked) for p, checked in form.invoice_options()] == [
            (profile.pk, True),
            (other_profile.pk, False),
        ]
        assert f'value="{profile.pk}" checked' in response.text
        assert 'data-testid="default-invoice"' in response.text

    def test_contract_customer_name_defaults_to_the_default_profile_title(self, signed_in, service, agreement, profile):
        form = signed_in.get(url(service)).context["form"]
        assert form["contract_customer_name"].value() == profile.title

    def test_without_saved_profiles_the_new_one_is_chosen(self, signed_in, service, agreement):
        form = signed_in.get(url(service)).context["form"]
        assert form["invoice_profile"].value() == "new"
        assert form.wants_new_invoice

    def test_new_invoice_profile_works_without_javascript(self, signed_in, service, agreement, profile):
        """A plain radio and the sub-form's own inputs inside the one checkout form."""
        text = signed_in.get(url(service)).text
        assert 'type="radio" name="invoice_profile" id="invoice-new"' in text
        for name in ("kind", "title_type", "title", "taxpayer_id", "contact_phone"):
            assert f'name="new_invoice-{name}"' in text
        assert "<script" not in text.split('data-testid="checkout-form"')[1]

    def test_reminder_fields_start_from_the_customer(self, signed_in, customer, service, agreement, profile):
        form = signed_in.get(url(service)).context["form"]
        assert form["reminder_name"].value() == customer.real_name
        assert form["reminder_mobile"].value() == customer.mobile
        assert form["reminder_email"].value() == customer.email

    def test_items_are_priced_from_the_catalog(self, signed_in, service, agreement, profile):
        response = signed_in.get(url(service))
        [row] = response.context["rows"]
        assert (row.service, row.unit_price, row.discount, row.subtotal) == (
            service,
            Decimal("2000.00"),
            Decimal("0.00"),
            Decimal("2000.00"),
        )
        assert row.field.value() == 1
        assert response.context["total"] == Decimal("2000.00")

    def test_agreement_is_shown_with_its_pk(self, signed_in, service, agreement, profile):
        response = signed_in.get(url(service))
        assert response.context["agreement"] == agreement
        assert agreement.body.splitlines()[0] in response.text
        assert f'name="agreement" value="{agreement.pk}"' in response.text

    def test_payment_method_defaults_to_third_party(self, signed_in, service, agreement, profile):
        form = signed_in.get(url(service)).context["form"]
        assert form["payment_method"].value() == Order.PaymentMethod.THIRD_PARTY

    def test_each_page_gets_its_own_checkout_token(self, signed_in, service, agreement, profile):
        # The second page comes from the page cache: its token must be new all the same.
        def token(response):
            return re.search(r'name="checkout_token" value="([^"]+)"', response.text).group(1)

        first = token(signed_in.get(url(service)))
        second = signed_in.get(url(service))
        assert second.context is None, "the second page was rendered again, not served from the page cache"
        assert uuid.UUID(token(second)) != uuid.UUID(first)

    def test_example_pictures_are_linked_and_exist(self, signed_in, service, agreement, profile):
        text = signed_in.get(url(service)).text
        for name in ("img/examples/marketplace-order-no.svg", "img/examples/seller-nick.svg"):
            assert finders.find(name), name
            assert f'href="/static/{name}"' in text
        assert text.count('data-testid="example-picture"') == 2

    def test_without_a_published_agreement_ordering_is_unavailable(self, signed_in, service, profile):
        AgreementFactory(published_at=None)  # a draft is not the current agreement
        response = signed_in.get(url(service))
        assert response.status_code == 200
        assertTemplateUsed(response, "orders/checkout_unavailable.html")
        assert "form" not in response.context

    def test_without_a_published_agreement_a_post_creates_nothing(self, signed_in, service, profile):
        draft = AgreementFactory(published_at=None)
        before = counts()
        response = signed_in.post(url(service), checkout_data(service=service, agreement=draft, profile=profile))
        assert response.status_code == 200
        assertTemplateUsed(response, "orders/checkout_unavailable.html")
        assert counts() == before


class TestCheckoutSubmit:
    def test_a_valid_checkout_makes_one_order_awaiting_review(self, signed_in, customer, service, agreement, profile):
        response = signed_in.post(
            url(service), checkout_data(service=service, agreement=agreement, profile=profile), REMOTE_ADDR="10.1.2.3"
        )
        order = Order.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("orders:list") + "?tab=awaiting"
        assert order.customer == customer
        assert order.status == Order.Status.AWAITING_PAYMENT
        assert order.invoice_title == profile.title
        assert order.reminder_mobile == "+8613800138000"
        assert {name: getattr(order, name) for name in ("store_name", "seller_nick", "marketplace_order_no")} == {
            "store_name": DETAILS["store_name"],
            "seller_nick": DETAILS["seller_nick"],
            "marketplace_order_no": DETAILS["marketplace_order_no"],
        }
        assert (order.agreement, order.agreement_version, order.agreement_accepted_ip) == (
            agreement,
            agreement.version,
            "10.1.2.3",
        )
        assert order.payment_method == Order.PaymentMethod.THIRD_PARTY
        [line] = order.lines.all()
        assert (line.service, line.quantity, line.subtotal) == (service, 1, Decimal("2000.00"))
        assert [order.number in str(m) for m in get_messages(response.wsgi_request)] == [True]

    def test_another_saved_profile_can_be_chosen(self, signed_in, service, agreement, profile, other_profile):
        signed_in.post(url(service), checkout_data(service=service, agreement=agreement, profile=other_profile))
        order = Order.objects.get()
        assert (order.invoice_title, order.invoice_kind) == (other_profile.title, "special")

    def test_bank_transfer_can_be_chosen(self, signed_in, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile, payment_method="bank_transfer")
        signed_in.post(url(service), data)
        assert Order.objects.get().payment_method == Order.PaymentMethod.BANK_TRANSFER

    def test_quantity_multiplies_the_catalog_price(self, signed_in, service, agreement, profile):
        signed_in.post(url(service), checkout_data(service=service, agreement=agreement, profile=profile, quantity="3"))
        order = Order.objects.get()
        assert (order.lines.get().quantity, order.total) == (3, Decimal("6000.00"))

    def test_a_posted_price_is_ignored(self, signed_in, service, agreement, profile):
        tampered = {
            "unit_price": "0.01",
            "price": "0.01",
            f"price_{service.pk}": "0.01",
            "subtotal": "0.01",
            "discount": "1999.99",
            "total": "0.00",
        }
        data = checkout_data(service=service, agreement=agreement, profile=profile, quantity="2", **tampered)
        assert signed_in.post(url(service), data).status_code == 302
        order = Order.objects.get()
        line = order.lines.get()
        assert (line.unit_price, line.discount, line.subtotal) == (Decimal("2000.00"), Decimal("0.00"), Decimal("4000.00"))
        assert (order.subtotal, order.discount, order.total) == (Decimal("4000.00"), Decimal("0.00"), Decimal("4000.00"))

    def test_second_reminder_email_and_remarks_are_optional(self, signed_in, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile, reminder_cc_email="", remarks="")
        assert signed_in.post(url(service), data).status_code == 302

    def test_remarks_and_second_email_are_kept(self, signed_in, service, agreement, profile):
        data = checkout_data(
            service=service, agreement=agreement, profile=profile, reminder_cc_email="li@example.com", remarks="请开纸质发票"
        )
        signed_in.post(url(service), data)
        order = Order.objects.get()
        assert (order.reminder_cc_email, order.remarks) == ("li@example.com", "请开纸质发票")


class TestCheckoutRefusals:
    """Bad input re-renders the form (200) with the error beside its field and creates nothing."""

    def refused(self, client, service, data, *fields):
        before = counts()
        response = client.post(url(service), data)
        assert response.status_code == 200
        assertTemplateUsed(response, "orders/checkout.html")
        form = response.context["form"]
        for field in fields:
            assert form.has_error(field), (field, form.errors)
        assert counts() == before
        return response

    @pytest.mark.parametrize("field", [*REQUIRED_DETAILS, "invoice_profile", "payment_method", "agreement_accepted"])
    def test_each_required_field_missing_is_refused(self, signed_in, service, agreement, profile, field):
        data = checkout_data(service=service, agreement=agreement, profile=profile, **{field: None})
        response = self.refused(signed_in, service, data, field)
        assert set(response.context["form"].errors) == {field}
        assert f'id="error_1_id_{field}"' in response.text or field == "invoice_profile"

    def test_each_required_field_blank_is_refused(self, signed_in, service, agreement, profile):
        blank = dict.fromkeys(REQUIRED_DETAILS, "")
        data = checkout_data(service=service, agreement=agreement, profile=profile, **blank)
        self.refused(signed_in, service, data, *REQUIRED_DETAILS)

    def test_an_empty_post_is_refused_field_by_field(self, signed_in, service, agreement, profile):
        response = self.refused(signed_in, service, {}, *REQUIRED_DETAILS, "invoice_profile", "payment_method")
        form = response.context["form"]
        assert form.has_error(f"quantity_{service.pk}")
        assert form.has_error("agreement_accepted")
        assert not form.has_error("reminder_cc_email") and not form.has_error("remarks")

    @pytest.mark.parametrize("mobile", ["12345", "021-64000000", "+1 415 555 0100", "1380013800"])
    def test_a_bad_mobile_is_refused(self, signed_in, service, agreement, profile, mobile):
        data = checkout_data(service=service, agreement=agreement, profile=profile, reminder_mobile=mobile)
        self.refused(signed_in, service, data, "reminder_mobile")

    @pytest.mark.parametrize("field", ["reminder_email", "reminder_cc_email"])
    def test_a_bad_email_is_refused(self, signed_in, service, agreement, profile, field):
        data = checkout_data(service=service, agreement=agreement, profile=profile, **{field: "wang@"})
        self.refused(signed_in, service, data, field)

    @pytest.mark.parametrize("quantity", ["0", "100", "abc", "-1", "1.5", ""])
    def test_a_bad_quantity_is_refused(self, signed_in, service, agreement, profile, quantity):
        data = checkout_data(service=service, agreement=agreement, profile=profile, quantity=quantity)
        response = self.refused(signed_in, service, data, f"quantity_{service.pk}")
        [row] = response.context["rows"]
        assert row.subtotal is None and response.context["total"] is None

    def test_remarks_longer_than_500_characters_are_refused(self, signed_in, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile, remarks="备" * 501)
        self.refused(signed_in, service, data, "remarks")

    def test_an_unticked_agreement_is_refused(self, signed_in, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile, agreement_accepted=None)
        self.refused(signed_in, service, data, "agreement_accepted")

    def test_a_stale_agreement_is_refused_and_must_be_accepted_again(self, signed_in, service, agreement, profile):
        newer = AgreementFactory()
        assert selectors.agreement_current() == newer
        data = checkout_data(service=service, agreement=agreement, profile=profile)
        response = self.refused(signed_in, service, data, "agreement")
        assert response.context["agreement"] == newer
        assert f'name="agreement" value="{newer.pk}"' in response.text
        assert response.context["form"]["agreement_accepted"].value() is False

    def test_an_unknown_agreement_pk_is_refused(self, signed_in, service, agreement, profile):
        data = {**checkout_data(service=service, agreement=agreement, profile=profile), "agreement": "999999"}
        self.refused(signed_in, service, data, "agreement")

    def test_another_customers_invoice_profile_is_refused(self, signed_in, service, agreement, profile):
        stranger = InvoiceProfileFactory()
        data = checkout_data(service=service, agreement=agreement, profile=profile, invoice_profile=str(stranger.pk))
        self.refused(signed_in, service, data, "invoice_profile")

    def test_an_unknown_payment_method_is_refused(self, signed_in, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile, payment_method="cash")
        self.refused(signed_in, service, data, "payment_method")

    def test_a_mangled_token_is_refused_and_replaced(self, signed_in, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile, checkout_token="not-a-uuid")
        response = self.refused(signed_in, service, data, "checkout_token")
        renewed = response.context["form"]["checkout_token"].value()
        assert uuid.UUID(renewed) and f'name="checkout_token" value="{renewed}"' in response.text

    def test_typed_values_are_kept(self, signed_in, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile, reminder_mobile="12345", quantity="4")
        response = self.refused(signed_in, service, data, "reminder_mobile")
        form = response.context["form"]
        assert form["store_name"].value() == DETAILS["store_name"]
        assert form["reminder_mobile"].value() == "12345"
        assert form[f"quantity_{service.pk}"].value() == "4"
        assert form["checkout_token"].value() == data["checkout_token"]
        assert response.context["total"] == Decimal("8000.00")

    def test_an_order_error_from_the_service_is_a_form_error(self, signed_in, service, agreement, profile, monkeypatch):
        def refuse(**kwargs):
            raise OrderError("refused by the service")

        monkeypatch.setattr("orders.views.checkout.services.order_checkout", refuse)
        response = self.refused(signed_in, service, checkout_data(service=service, agreement=agreement, profile=profile))
        assert response.context["form"].non_field_errors() == ["refused by the service"]


class TestNewInvoiceProfile:
    def test_a_valid_new_profile_is_created_and_used(self, signed_in, customer, service, agreement, profile):
        signed_in.post(url(service), checkout_data(service=service, agreement=agreement))
        created = InvoiceProfile.objects.exclude(pk=profile.pk).get()
        assert created.user == customer
        assert (created.title, created.contact_phone) == (NEW_PROFILE["new_invoice-title"], "+8613900139000")
        order = Order.objects.get()
        assert (order.invoice_title, order.invoice_taxpayer_id) == (created.title, created.taxpayer_id)

    def test_the_first_profile_of_a_customer_becomes_the_default(self, signed_in, customer, service, agreement):
        signed_in.post(url(service), checkout_data(service=service, agreement=agreement))
        assert InvoiceProfile.objects.get(user=customer).is_default

    @pytest.mark.parametrize(
        "field, value",
        [
            ("title", ""),
            ("taxpayer_id", "91310000134511149L"),  # wrong check digit
            ("contact_phone", "12345"),
            ("kind", "special"),  # a special VAT invoice without bank and account
        ],
    )
    def test_an_invalid_new_profile_creates_nothing_and_keeps_what_was_typed(
        self, signed_in, service, agreement, profile, field, value
    ):
        overrides = {f"new_invoice-{field}": value}
        if field == "kind":
            overrides.update({"new_invoice-bank": "", "new_invoice-account": ""})
        before = counts()
        response = signed_in.post(url(service), checkout_data(service=service, agreement=agreement, **overrides))
        assert response.status_code == 200
        assert counts() == before
        new_invoice = response.context["form"].new_invoice
        assert new_invoice.errors
        if field != "kind":
            assert new_invoice.has_error(field)
        assert new_invoice["contact"].value() == NEW_PROFILE["new_invoice-contact"]
        assert new_invoice[field].value() == value
        assert f'value="{NEW_PROFILE["new_invoice-contact"]}"' in response.text
        assert re.search(r'id="invoice-new"\s+value="new" checked', response.text)

    def test_an_invalid_new_profile_is_refused_with_the_other_errors_too(self, signed_in, service, agreement):
        data = checkout_data(service=service, agreement=agreement, store_name="", **{"new_invoice-title": ""})
        before = counts()
        response = signed_in.post(url(service), data)
        form = response.context["form"]
        assert form.has_error("store_name") and form.new_invoice.has_error("title")
        assert counts() == before

    def test_the_new_profile_form_is_ignored_when_a_saved_profile_is_chosen(self, signed_in, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile, **{"new_invoice-title": ""})
        response = signed_in.post(url(service), data)
        assert response.status_code == 302
        assert InvoiceProfile.objects.count() == 1

    def test_an_order_error_leaves_no_new_profile(self, signed_in, service, agreement, monkeypatch):
        """The profile and the order are made in one transaction."""
        real_submit = services.order_submit

        def submit_then_refuse(**kwargs):
            real_submit(**kwargs)
            raise OrderError("refused after the order was written")

        monkeypatch.setattr("orders.services.order_submit", submit_then_refuse)
        before = counts()
        response = signed_in.post(url(service), checkout_data(service=service, agreement=agreement))
        assert response.status_code == 200
        assert counts() == before

    def test_the_unchosen_new_profile_keeps_what_was_typed_without_errors(self, signed_in, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile, store_name="")
        data["new_invoice-title"] = "半填的抬头"
        response = signed_in.post(url(service), data)
        new_invoice = response.context["form"].new_invoice
        assert new_invoice["title"].value() == "半填的抬头"
        assert not new_invoice.is_bound  # shown, not checked: it was not chosen


class TestRepeatedCheckout:
    def test_a_second_post_with_the_same_token_returns_the_same_order(self, signed_in, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile)
        first = signed_in.post(url(service), data)
        second = signed_in.post(url(service), data)
        assert first.status_code == second.status_code == 302
        assert second["Location"] == reverse("orders:list") + "?tab=awaiting"
        assert Order.objects.count() == 1
        assert OrderLine.objects.count() == 1
        assert Order.objects.get().number in str(list(get_messages(second.wsgi_request))[-1])

    def test_a_repeated_checkout_with_a_new_profile_adds_one_profile(self, signed_in, service, agreement):
        data = checkout_data(service=service, agreement=agreement)
        signed_in.post(url(service), data)
        signed_in.post(url(service), data)
        assert (Order.objects.count(), InvoiceProfile.objects.count()) == (1, 1)

    def test_a_new_token_makes_a_new_order(self, signed_in, service, agreement, profile):
        signed_in.post(url(service), checkout_data(service=service, agreement=agreement, profile=profile))
        signed_in.post(url(service), checkout_data(service=service, agreement=agreement, profile=profile))
        assert Order.objects.count() == 2


class TestRecalculate:
    """更新金额 re-renders the amounts for the quantities typed, without JavaScript."""

    def test_new_quantity_new_amounts_nothing_created(self, signed_in, service, agreement, profile):
        before = counts()
        token = str(uuid.uuid4())
        data = {"recalculate": "1", f"quantity_{service.pk}": "3", "store_name": "云测旗舰店", "checkout_token": token}
        response = signed_in.post(url(service), data)
        assert response.status_code == 200
        assert counts() == before
        [row] = response.context["rows"]
        assert (row.subtotal, response.context["total"]) == (Decimal("6000.00"), Decimal("6000.00"))
        form = response.context["form"]
        assert not form.errors  # the fields not filled in yet are not errors now
        assert form["store_name"].value() == "云测旗舰店"
        assert form["checkout_token"].value() == data["checkout_token"]

    def test_a_bad_quantity_shows_only_its_own_error(self, signed_in, service, agreement, profile):
        response = signed_in.post(url(service), {"recalculate": "1", f"quantity_{service.pk}": "abc"})
        form = response.context["form"]
        assert set(form.errors) == {f"quantity_{service.pk}"}
        assert response.context["total"] is None

    def test_a_complete_form_is_not_submitted_by_recalculate(self, signed_in, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile, quantity="2", recalculate="1")
        response = signed_in.post(url(service), data)
        assert response.status_code == 200
        assert Order.objects.count() == 0
        assert response.context["total"] == Decimal("4000.00")

    def test_the_new_profile_form_shows_no_errors_on_recalculate(self, signed_in, service, agreement):
        data = {"recalculate": "1", "invoice_profile": "new", "new_invoice-title": "", f"quantity_{service.pk}": "1"}
        response = signed_in.post(url(service), data)
        assert not response.context["form"].new_invoice.errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestConcurrentDoubleClick:
    """Several clicks on 店铺订购结算 at once (same page, same token), on PostgreSQL."""

    def post_concurrently(self, customer, service, data, count=5):
        def click(_i):
            client = Client()
            client.force_login(customer, backend=MODEL_BACKEND)
            return client.post(url(service), data)

        return run_concurrently(click, count)

    def test_make_one_order(self, customer, service, agreement, profile):
        data = checkout_data(service=service, agreement=agreement, profile=profile)
        outcomes = self.post_concurrently(customer, service, data)
        assert [getattr(o, "status_code", o) for o in outcomes] == [302] * 5
        assert (Order.objects.count(), OrderLine.objects.count()) == (1, 1)

    def test_with_a_new_profile_make_one_order_and_one_profile(self, customer, service, agreement):
        data = checkout_data(service=service, agreement=agreement)
        outcomes = self.post_concurrently(customer, service, data)
        assert [getattr(o, "status_code", o) for o in outcomes] == [302] * 5
        assert (Order.objects.count(), InvoiceProfile.objects.count()) == (1, 1)
