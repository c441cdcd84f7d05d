"""The customer's invoices and contract downloads, the invoice section of an order,
and the public contract verification page."""

import hashlib
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from accounts.tests.factories import UserFactory
from catalog.models import Platform, Service
from invoicing import services
from invoicing.models import Contract, Invoice
from invoicing.pdf import render_pdf
from orders.models import Order
from orders.tests.factories import order_in

from .conftest import invoice_number, pdf_upload, read_stored

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("configured_signing_key")]

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def with_documents(customer=None) -> Order:
    order = order_in(Order.Status.SUCCESS, **({"customer": customer} if customer else {}))
    services.documents_generate(order_id=order.pk)
    return order


def sign_in(client, user):
    client.force_login(user, backend=MODEL_BACKEND)
    return client


def listed_invoices(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-invoice="(\d+)"', html)]


@pytest.fixture
def alice():
    return UserFactory()


@pytest.fixture
def order(alice):
    """Alice's confirmed order with its invoice and contract."""
    return with_documents(alice)


@pytest.fixture
def as_alice(client, alice):
    return sign_in(client, alice)


class TestInvoiceList:
    def test_lists_only_own_invoices_in_a_constant_number_of_queries(self, as_alice, alice, order):
        others = with_documents()  # another customer's
        url = reverse("invoicing:list")

        with CaptureQueriesContext(connection) as one:
            first = as_alice.get(url)
        with_documents(alice)
        with_documents(alice)
        with CaptureQueriesContext(connection) as three:
            second = as_alice.get(url)

        assert first.status_code == second.status_code == 200
        own = set(Invoice.objects.filter(order__customer=alice).values_list("pk", flat=True))
        assert listed_invoices(first.content.decode()) == [Invoice.objects.get(order=order).pk]
        assert set(listed_invoices(second.content.decode())) == own and len(own) == 3
        assert Invoice.objects.get(order=others).pk not in listed_invoices(second.content.decode())
        assert len(three) == len(one), [q["sql"] for q in three.captured_queries]

    def test_shows_status_download_and_once_issued_the_number_and_date(self, as_alice, order):
        invoice = Invoice.objects.get(order=order)
        html = as_alice.get(reverse("invoicing:list")).content.decode()
        assert f'href="/account/invoices/{invoice.pk}.pdf" data-testid="invoice-download"' in html
        with translation.override("zh-hans"):
            assert f'data-testid="invoice-status">{invoice.get_status_display()}</span>' in html

        today = timezone.localdate()
        services.invoice_issue(invoice=invoice, actor=UserFactory(staff=True), number=invoice_number(today), issued_on=today)

        html = as_alice.get(reverse("invoicing:list")).content.decode()
        assert f'data-testid="invoice-number">{invoice_number(today)}</td>' in html
        assert f"{today:%Y-%m-%d}" in html

    def test_a_customer_without_invoices_sees_the_empty_state(self, client):
        html = sign_in(client, UserFactory()).get(reverse("invoicing:list")).content.decode()

        assert 'data-testid="empty-state"' in html and "data-invoice=" not in html


class TestDownloads:
    def test_the_owner_downloads_the_invoice_sheet_and_the_contract_privately(self, as_alice, order):
        invoice, contract = Invoice.objects.get(order=order), Contract.objects.get(order=order)

        for url, stored in [
            (reverse("invoicing:download", args=[invoice.pk]), invoice.sheet),
            (reverse("invoicing:contract", args=[order.number]), contract.pdf),
        ]:
            response = as_alice.get(url)
            assert response.status_code == 200
            assert response["Content-Type"] == "application/pdf"
            assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}
            assert response["Content-Disposition"].startswith("attachment")
            assert b"".join(response.streaming_content) == read_stored(stored)

    def test_once_finance_uploads_the_official_pdf_it_is_what_the_customer_gets(self, as_alice, order):
        invoice = Invoice.objects.get(order=order)
        official = render_pdf("<p>数电发票</p>")
        today = timezone.localdate()
        services.invoice_issue(
            invoice=invoice,
            actor=UserFactory(staff=True),
            number=invoice_number(today),
            issued_on=today,
            official_pdf=pdf_upload(content=official),
        )

        response = as_alice.get(reverse("invoicing:download", args=[invoice.pk]))

        assert b"".join(response.streaming_content) == official
        assert f'filename="{invoice_number(today)}.pdf"' in response["Content-Disposition"]

    def test_another_customer_gets_404_for_invoice_contract_and_ids_that_do_not_exist(self, client, order):
        invoice = Invoice.objects.get(order=order)
        as_bob = sign_in(client, UserFactory())

        for url in [
            reverse("invoicing:download", args=[invoice.pk]),
            reverse("invoicing:contract", args=[order.number]),
            reverse("invoicing:download", args=[invoice.pk + 1000]),
            reverse("invoicing:contract", args=["BS-ZX000000000000000000"]),
        ]:
            assert as_bob.get(url).status_code == 404, url

    def test_an_order_without_documents_yet_has_no_contract_to_download(self, as_alice, alice):
        confirmed = order_in(Order.Status.SUCCESS, customer=alice)  # documents not made yet

        assert as_alice.get(reverse("invoicing:contract", args=[confirmed.number])).status_code == 404

    def test_anonymous_visitors_are_sent_to_sign_in(self, client, order):
        invoice = Invoice.objects.get(order=order)
        login = reverse("accounts:login")

        for url in [
            reverse("invoicing:list"),
            reverse("invoicing:download", args=[invoice.pk]),
            reverse("invoicing:contract", args=[order.number]),
        ]:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(f"{login}?next=")


class TestOrderPages:
    def test_a_confirmed_order_shows_its_invoice_status_and_downloads(self, as_alice, order):
        invoice, contract = Invoice.objects.get(order=order), Contract.objects.get(order=order)

        html = as_alice.get(reverse("orders:detail", args=[order.number])).content.decode()

        assert 'data-testid="order-invoices"' in html and 'data-testid="invoice-preparing"' not in html
        with translation.override("zh-hans"):
            assert f'data-testid="invoice-status">{invoice.get_status_display()}</span>' in html
        assert f'href="/account/invoices/{invoice.pk}.pdf" data-testid="invoice-download"' in html
        assert f'href="/account/orders/{order.number}/contract.pdf" data-testid="contract-download"' in html
        assert contract.seal_filing_number in html

    def test_documents_not_made_yet_show_as_being_prepared(self, as_alice, alice):
        confirmed = order_in(Order.Status.SUCCESS, customer=alice)

        html = as_alice.get(reverse("orders:detail", args=[confirmed.number])).content.decode()

        assert 'data-testid="invoice-preparing"' in html
        assert 'data-testid="invoice-download"' not in html and 'data-testid="contract-download"' not in html

    def test_an_order_in_trade_has_no_invoice_section(self, as_alice, alice):
        in_trade = order_in(Order.Status.IN_TRADE, customer=alice)

        html = as_alice.get(reverse("orders:detail", args=[in_trade.number])).content.decode()

        assert 'data-testid="order-invoices"' not in html

    def test_my_orders_links_the_contract_with_the_seal_filing_number(self, as_alice, alice, order, settings):
        without = order_in(Order.Status.IN_TRADE, customer=alice)

        html = as_alice.get(reverse("orders:list")).content.decode()

        assert f'href="/account/orders/{order.number}/contract.pdf" data-testid="contract-link"' in html
        assert html.count('data-testid="contract-link"') == 1  # not on the order in trade
        assert f"/account/orders/{without.number}/contract.pdf" not in html
        assert settings.SELLER["seal_filing_number"] in html


class TestContractVerification:
    def test_public_page_shows_the_facts_the_hash_of_the_stored_file_and_a_valid_signature(self, client, order):
        contract = Contract.objects.get(order=order)
        stored = read_stored(contract.pdf)

        response = client.get(reverse("invoicing:contract-verify", args=[contract.token]))  # not signed in

        assert response.status_code == 200
        html = response.content.decode()
        assert 'data-valid="true"' in html
        assert f'data-testid="sha256">{hashlib.sha256(stored).hexdigest()}</dd>' in html
        assert contract.number in html and contract.buyer_name in html and contract.seller_name in html
        assert f"¥{contract.total:.2f}" in html and contract.total_in_words in html
        assert f"{timezone.localtime(contract.signed_at):%Y-%m-%d}" in html
        assert response["X-Robots-Tag"] == "noindex" and "no-cache" in response["Cache-Control"]

    def test_an_unknown_token_is_404(self, client, order):
        contract = Contract.objects.get(order=order)

        assert client.get(reverse("invoicing:contract-verify", args=["not-a-token"])).status_code == 404
        assert client.get(reverse("invoicing:contract-verify", args=[contract.token[:-1]])).status_code == 404

    def test_renders_in_chinese_by_default_and_in_english_by_choice(self, client, order):
        url = reverse("invoicing:contract-verify", args=[Contract.objects.get(order=order).token])

        chinese = client.get(url).content.decode()
        client.cookies["django_language"] = "en"
        english = client.get(url).content.decode()

        assert '<html lang="zh-hans">' in chinese and '<html lang="en">' in english
        assert "Contract verification" in english and "Contract verification" not in chinese
        for html in (chinese, english):
            assert 'data-valid="true"' in html


class TestMissingFiles:
    """A document recorded but gone from storage (a lost volume, a bad restore): a 404
    and an error in the log for downloads, "not valid" on the verification page; never a 500."""

    def test_downloads_are_404_and_logged(self, as_alice, order, caplog):
        invoice, contract = Invoice.objects.get(order=order), Contract.objects.get(order=order)
        invoice.sheet.storage.delete(invoice.sheet.name)
        contract.pdf.storage.delete(contract.pdf.name)

        assert as_alice.get(reverse("invoicing:download", args=[invoice.pk])).status_code == 404
        assert as_alice.get(reverse("invoicing:contract", args=[order.number])).status_code == 404
        assert "missing from storage" in caplog.text

    def test_the_verification_page_says_not_valid(self, client, order):
        contract = Contract.objects.get(order=order)
        contract.pdf.storage.delete(contract.pdf.name)

        response = client.get(reverse("invoicing:contract-verify", args=[contract.token]))

        assert response.status_code == 200
        assert 'data-valid="false"' in response.text


class TestInvoiceInfo:
    """发票信息 on every confirmed order's row (guide steps 5 and 7): one click from My
    Orders or the order page to the order's invoices with their progress."""

    @staticmethod
    def info_url(order) -> str:
        return reverse("invoicing:order-invoices", args=[order.number])

    def info_link(self, order) -> str:
        return f'href="{self.info_url(order)}" data-testid="invoice-info-link"'

    @staticmethod
    def progress(html: str) -> list[tuple[str, str]]:
        """(step, state) of the first invoice's progress on the page."""
        steps = html.split('data-testid="invoice-progress"', 1)[1].split("</ol>", 1)[0]
        return re.findall(r'data-step="([a-z_]+)" data-state="([a-z]+)"', steps)

    @pytest.fixture
    def refunding(self, alice):
        """Alice's confirmed order with a refund under way (退款中)."""
        from refunds.services import refund_request

        order = with_documents(alice)
        service = order.lines.first().service
        Platform.objects.filter(pk=service.platform_id).update(refundable=True)
        Service.objects.filter(pk=service.pk).update(refund_window_days=30)
        refund_request(order=order, actor=alice, amount="100.00", reason="unwanted", contact_mobile="13800138000")
        return Order.objects.get(pk=order.pk)

    def test_each_tab_with_a_confirmed_order_offers_it_in_one_click(self, as_alice, alice, order, refunding):
        in_trade = order_in(Order.Status.IN_TRADE, customer=alice)
        awaiting = order_in(Order.Status.AWAITING_PAYMENT, customer=alice)
        assert refunding.status == Order.Status.REFUNDING

        success_tab = as_alice.get(reverse("orders:list"), {"tab": "success"}).content.decode()
        refunding_tab = as_alice.get(reverse("orders:list"), {"tab": "refunding"}).content.decode()
        everything = as_alice.get(reverse("orders:list")).content.decode()

        assert self.info_link(order) in success_tab and self.info_link(refunding) not in success_tab
        assert self.info_link(refunding) in refunding_tab
        assert self.info_link(order) in everything and self.info_link(refunding) in everything
        for unconfirmed in (in_trade, awaiting):
            assert self.info_url(unconfirmed) not in everything

    def test_the_order_page_offers_it_too(self, as_alice, alice, order):
        in_trade = order_in(Order.Status.IN_TRADE, customer=alice)

        assert self.info_link(order) in as_alice.get(reverse("orders:detail", args=[order.number])).content.decode()
        assert self.info_url(in_trade) not in as_alice.get(reverse("orders:detail", args=[in_trade.number])).content.decode()

    def test_a_new_invoice_is_to_be_issued_then_issued_with_its_number_date_and_pdf(self, as_alice, order):
        invoice = Invoice.objects.get(order=order)

        before = as_alice.get(self.info_url(order))
        assert before.status_code == 200
        html = before.content.decode()
        assert self.progress(html) == [("pending", "current"), ("issued", "todo"), ("delivered", "todo")]
        assert f'data-invoice="{invoice.pk}"' in html
        assert f'href="/account/invoices/{invoice.pk}.pdf" data-testid="invoice-download"' in html

        today = timezone.localdate()
        number = invoice_number(today)
        services.invoice_issue(invoice=invoice, actor=UserFactory(staff=True), number=number, issued_on=today)
        html = as_alice.get(self.info_url(order)).content.decode()

        assert self.progress(html) == [("pending", "done"), ("issued", "current"), ("delivered", "todo")]
        assert f'data-testid="invoice-number">{number}' in html
        assert f'datetime="{today.isoformat()}"' in html

    def test_a_mailed_invoice_shows_its_tracking_number(self, as_alice, order):
        invoice = Invoice.objects.get(order=order)
        today = timezone.localdate()
        finance = UserFactory(staff=True)
        invoice = services.invoice_issue(invoice=invoice, actor=finance, number=invoice_number(today), issued_on=today)
        services.invoice_deliver(invoice=invoice, actor=finance, tracking_number="SF1234567890")

        html = as_alice.get(self.info_url(order)).content.decode()

        assert self.progress(html) == [("pending", "done"), ("issued", "done"), ("delivered", "current")]
        assert "SF1234567890" in html

    def test_documents_not_made_yet_show_as_being_prepared(self, as_alice, alice):
        confirmed = order_in(Order.Status.SUCCESS, customer=alice)

        html = as_alice.get(self.info_url(confirmed)).content.decode()

        assert 'data-testid="invoice-preparing"' in html

    def test_an_order_not_yet_confirmed_says_when_its_invoice_information_comes(self, as_alice, alice):
        in_trade = order_in(Order.Status.IN_TRADE, customer=alice)

        response = as_alice.get(self.info_url(in_trade))

        assert response.status_code == 200
        assert 'data-testid="invoice-not-yet"' in response.content.decode()
        assert 'data-testid="order-invoices"' not in response.content.decode()

    def test_another_customers_order_and_an_unknown_number_are_404(self, client, order):
        sign_in(client, UserFactory())

        assert client.get(self.info_url(order)).status_code == 404
        assert client.get(reverse("invoicing:order-invoices", args=["BS-ZX000"])).status_code == 404

    def test_anonymous_visitors_are_sent_to_sign_in(self, client, order):
        response = client.get(self.info_url(order))

        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")

    def test_labels_in_chinese_by_default_and_in_english_by_choice(self, as_alice, order):
        chinese = as_alice.get(reverse("orders:list")).content.decode()
        as_alice.cookies["django_language"] = "en"
        english = as_alice.get(reverse("orders:list")).content.decode()

        assert 'data-testid="invoice-info-link">发票信息</a>' in chinese
        assert 'data-testid="invoice-info-link">Invoice info</a>' in english


class TestInvoiceProgress:
    """Each invoice state's way, as 发票信息 shows it (invoicing.selectors.invoice_progress)."""

    @pytest.mark.parametrize(
        "status, delivered, expected",
        [
            ("pending", False, [("pending", "current"), ("issued", "todo"), ("delivered", "todo")]),
            ("issued", False, [("pending", "done"), ("issued", "current"), ("delivered", "todo")]),
            ("delivered", True, [("pending", "done"), ("issued", "done"), ("delivered", "current")]),
            ("cancelled", False, [("pending", "done"), ("cancelled", "current")]),
            ("reversed", False, [("pending", "done"), ("issued", "done"), ("reversed", "current")]),
            ("reversed", True, [("pending", "done"), ("issued", "done"), ("delivered", "done"), ("reversed", "current")]),
        ],
    )
    def test_steps_and_states(self, status, delivered, expected):
        from invoicing.selectors import invoice_progress

        now = timezone.now()
        invoice = Invoice(
            status=status,
            created_at=now,
            updated_at=now,
            issued_on=now.date() if status in ("issued", "delivered", "reversed") else None,
            delivered_at=now if delivered else None,
        )

        steps = invoice_progress(invoice)

        assert [(step.key, step.state) for step in steps] == expected
        assert all((step.at is None) == (step.state == "todo") for step in steps)
