"""Invoices and e-contracts in a real browser (issue 5, guide steps 5 and 7): the
customer confirms receipt of an order in 交易中 and finds it under 交易成功 with its
invoice information (to be issued) and the e-contract to download; finance issues the
invoice in the admin; the customer then sees it issued with its number.

Without REDIS_URL the documents are made in-process once the confirmation commits,
which the live server does like any deployment without a broker. The first page of
each PDF is saved as a PNG next to the screenshots.

Elements are found by data-testid, data-* attributes, name and href, not by UI text,
which is being translated; the statuses shown are looked up through the same
translation catalogue the live server uses.
"""

import hashlib
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from playwright.sync_api import Page, expect

from accounts.roles import GROUP_FINANCE
from accounts.tests.factories import UserFactory
from catalog.tests.factories import ServiceFactory
from invoicing.models import Contract, Invoice
from orders.models import Order, OrderEvent
from orders.tests.factories import order_in

from .pages import sign_in

INVOICE_NUMBER = f"{timezone.localdate().year % 100:02d}312000000000123456"


@pytest.fixture
def people(transactional_db):
    """Finance (in the migrations' 财务, restored by UserFactory after a flush), the
    customer and the customer's order in 交易中 (two lines)."""
    finance = UserFactory(staff=True, groups=[GROUP_FINANCE], real_name="财务甲")
    assert finance.has_perm("invoicing.issue_invoice") and not finance.is_superuser
    customer = UserFactory()
    order = order_in(
        Order.Status.IN_TRADE,
        customer=customer,
        services_and_quantities=[(ServiceFactory(period_months=12), 2), (ServiceFactory(one_off=True), 1)],
    )
    return finance, customer, order


def download(page: Page, locator) -> bytes:
    """Click a download link; the file's bytes."""
    with page.expect_download() as info:
        locator.click()
    return Path(info.value.path()).read_bytes()


def save_first_page(data: bytes, path: Path) -> None:
    assert data.startswith(b"%PDF-")
    document = pdfium.PdfDocument(data)
    try:
        document[0].render(scale=1.5).to_pil().save(path)
    finally:
        document.close()
    assert path.stat().st_size > 10_000  # a rendered page, not an empty image


def status_label(status) -> str:
    """The live server's label of an invoice status."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(Invoice.Status(status).label)


def test_customer_confirms_finance_issues_customer_sees_the_number(
    page: Page, new_context, live_server, people, artifacts_dir
):
    finance, customer, order = people
    base = live_server.url
    customer_page = page
    detail_url = order.get_absolute_url()
    in_trade_url = reverse("orders:list") + "?tab=in_trade"

    # The customer confirms receipt from My Orders (交易中).
    sign_in(customer_page, reverse("accounts:login"), customer, in_trade_url, base)
    block = customer_page.locator(f"tbody[data-order='{order.number}']")
    expect(block.locator("[data-status]")).to_have_attribute("data-status", Order.Status.IN_TRADE)
    confirm = block.locator(f"form[action='{reverse('orders:confirm', args=[order.number])}'] [type=submit]")
    confirm.click()
    expect(customer_page).to_have_url(base + detail_url)

    # Documents were made once the confirmation committed: one invoice, one contract.
    order.refresh_from_db()
    assert order.status == Order.Status.SUCCESS
    invoice = Invoice.objects.get(order=order)
    contract = Contract.objects.get(order=order)
    assert invoice.status == Invoice.Status.PENDING
    assert invoice.total == order.paid_amount

    # The order detail shows 发票信息 (to be issued) and the e-contract.
    section = customer_page.get_by_test_id("order-invoices")
    expect(section).to_be_visible()
    expect(section.get_by_test_id("invoice-status")).to_have_text(status_label(Invoice.Status.PENDING))
    expect(section.get_by_test_id("invoice-number")).to_have_text("—")
    contract_pdf = download(customer_page, section.get_by_test_id("contract-download"))
    assert contract_pdf.startswith(b"%PDF-") and b"/ByteRange" in contract_pdf  # signed
    save_first_page(contract_pdf, artifacts_dir / "contract-page1.png")
    sheet_pdf = download(customer_page, section.get_by_test_id("invoice-download"))
    save_first_page(sheet_pdf, artifacts_dir / "invoice-sheet-page1.png")
    customer_page.screenshot(path=artifacts_dir / "customer-invoice-pending.png", full_page=True)

    # Under 交易成功 in My Orders, with the contract in the order's header.
    customer_page.goto(base + reverse("orders:list"))
    customer_page.locator("[data-tab=success]").click()
    expect(customer_page).to_have_url(base + reverse("orders:list") + "?tab=success")
    block = customer_page.locator(f"tbody[data-order='{order.number}']")
    expect(block.locator("[data-status]")).to_have_attribute("data-status", Order.Status.SUCCESS)
    expect(block.get_by_test_id("contract-link")).to_have_attribute(
        "href", reverse("invoicing:contract", args=[order.number])
    )
    expect(block.get_by_test_id("refund-link")).to_be_visible()  # refundable platform, within the window
    expect(block.get_by_test_id("no-refund")).to_have_count(0)
    customer_page.screenshot(path=artifacts_dir / "customer-trade-successful.png", full_page=True)

    # 交易成功 → 发票信息, one click: to be issued (待开票), the way ahead still to come.
    invoice_info_url = reverse("invoicing:order-invoices", args=[order.number])
    block.get_by_test_id("invoice-info-link").click()
    expect(customer_page).to_have_url(base + invoice_info_url)
    progress = customer_page.get_by_test_id("invoice-progress")
    expect(progress.locator("[data-state=current]")).to_have_attribute("data-step", Invoice.Status.PENDING)
    expect(progress.locator("[data-step=pending]")).to_contain_text(status_label(Invoice.Status.PENDING))
    expect(progress.locator("[data-state=todo]")).to_have_count(2)
    expect(customer_page.get_by_test_id("invoice-number")).to_have_text("—")
    customer_page.screenshot(path=artifacts_dir / "customer-invoice-info-pending.png", full_page=True)

    # Finance signs in to the admin; the index's invoice queue holds this invoice.
    admin = new_context(viewport={"width": 1600, "height": 900}).new_page()  # the queue is a wide table
    admin_index = reverse("admin:index")
    sign_in(admin, reverse("admin:login"), finance, admin_index, base)
    expect(admin.locator("[data-queue=invoices] td.count")).to_have_text("1")
    admin.screenshot(path=artifacts_dir / "admin-finance-index.png", full_page=True)
    changelist = reverse("admin:invoicing_invoice_changelist")
    admin.locator(f"[data-queue=invoices] a[href^='{changelist}']").click()
    rows = admin.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("[data-status]")).to_have_attribute("data-status", Invoice.Status.PENDING)
    admin.screenshot(path=artifacts_dir / "admin-invoice-queue.png", full_page=True)
    change_url = reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    rows.locator(f"a[href^='{change_url}']").click()
    expect(admin).to_have_url(re.compile(re.escape(base + change_url)))

    # 开票 with a number of the wrong length: refused beside the field, nothing changes.
    admin.locator(".object-tools a[data-move=issue]").click()
    issue_url = reverse("admin:invoicing_invoice_issue", args=[invoice.pk])
    expect(admin).to_have_url(base + issue_url)
    form = admin.locator("#content-main form:has([name=number])")
    expect(form.locator("[name=issued_on]")).to_have_value(timezone.localdate().isoformat())
    form.locator("[name=number]").fill(INVOICE_NUMBER[:19])
    form.locator("[type=submit].default").click()
    expect(admin.locator(".field-number.errors .errorlist")).not_to_be_empty()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == (Invoice.Status.PENDING, None)

    # With a valid number: issued by finance.
    form.locator("[name=number]").fill(INVOICE_NUMBER)
    admin.screenshot(path=artifacts_dir / "admin-invoice-issue.png", full_page=True)
    form.locator("[type=submit].default").click()
    expect(admin).to_have_url(base + change_url)
    expect(admin.locator(".messagelist .success")).to_have_count(1)
    expect(admin.locator(".field-status_label [data-status]")).to_have_attribute("data-status", Invoice.Status.ISSUED)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number, invoice.issued_on) == (
        Invoice.Status.ISSUED,
        INVOICE_NUMBER,
        timezone.localdate(),
    )
    assert OrderEvent.objects.filter(order=order, action="invoice_issue", actor=finance).count() == 1

    # The customer reloads the order: issued, with the number and the date.
    customer_page.goto(base + detail_url)
    section = customer_page.get_by_test_id("order-invoices")
    expect(section.get_by_test_id("invoice-status")).to_have_text(status_label(Invoice.Status.ISSUED))
    expect(section.get_by_test_id("invoice-number")).to_have_text(INVOICE_NUMBER)
    expect(section).to_contain_text(timezone.localdate().isoformat())
    customer_page.screenshot(path=artifacts_dir / "customer-invoice-issued.png", full_page=True)

    # And from the bookmarked 交易成功 tab → 发票信息: issued (已开票), with the number.
    customer_page.goto(base + reverse("orders:list") + "?status=success")
    expect(customer_page.locator("[data-tab=success]")).to_have_attribute("aria-current", "page")
    expect(customer_page.locator("[data-tab].active")).to_have_count(1)
    block = customer_page.locator(f"tbody[data-order='{order.number}']")
    block.get_by_test_id("invoice-info-link").click()
    expect(customer_page).to_have_url(base + invoice_info_url)
    progress = customer_page.get_by_test_id("invoice-progress")
    expect(progress.locator("[data-state=current]")).to_have_attribute("data-step", Invoice.Status.ISSUED)
    expect(progress.locator("[data-step=issued]")).to_contain_text(status_label(Invoice.Status.ISSUED))
    expect(progress.locator("[data-step=issued]")).to_contain_text(timezone.localdate().isoformat())
    expect(customer_page.get_by_test_id("invoice-number")).to_have_text(INVOICE_NUMBER)
    customer_page.screenshot(path=artifacts_dir / "customer-invoice-info-issued.png", full_page=True)
    assert Invoice.objects.filter(order=order).count() == 1
    assert Contract.objects.filter(order=order).count() == 1
    assert hashlib.sha256(contract_pdf).hexdigest() == contract.sha256  # the signed file, as stored


def test_a_line_the_platform_does_not_refund_says_no_refund(page: Page, live_server, transactional_db, artifacts_dir):
    """The guide's step 6 screen: 退款 where the platform allows refunds, the label 不退款
    where it does not; the bookmarked tab URL opens the tab with both."""
    customer = UserFactory()
    refundable = order_in(Order.Status.SUCCESS, customer=customer)
    no_refunds = order_in(
        Order.Status.SUCCESS,
        customer=customer,
        services_and_quantities=[(ServiceFactory(platform__refundable=False), 1)],
    )
    base = live_server.url
    success_tab = reverse("orders:list") + "?tab=success"

    sign_in(page, reverse("accounts:login"), customer, success_tab, base)

    expect(page.locator("[data-tab=success]")).to_have_attribute("aria-current", "page")
    allowed = page.locator(f"tbody[data-order='{refundable.number}']")
    refused = page.locator(f"tbody[data-order='{no_refunds.number}']")
    expect(allowed.get_by_test_id("refund-link")).to_be_visible()
    expect(allowed.get_by_test_id("no-refund")).to_have_count(0)
    expect(refused.get_by_test_id("refund-link")).to_have_count(0)
    with translation.override(settings.LANGUAGE_CODE):
        expect(refused.get_by_test_id("no-refund")).to_have_text(str(translation.gettext("No refund")))
    expect(refused.get_by_test_id("no-refund-reason")).not_to_be_empty()
    for block in (allowed, refused):
        expect(block.get_by_test_id("invoice-info-link")).to_be_visible()
    page.screenshot(path=artifacts_dir / "customer-no-refund.png", full_page=True)
