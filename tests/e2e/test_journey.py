"""The whole journey in a real browser (issue 8 item 1), every role hand-off in order:

 1. customer  finds the service by product key (/services/by-key/), buys it with a NEW
              增值税专用发票 profile made on the checkout page → 等待付款
 2. reviewer  (订单审核) rejects it in the admin with a reason
 3. customer  sees the reason, 修改信息 and resubmits
 4. reviewer  approves it
 5. customer  确认收货 → 交易成功; the invoice (待开票) and the signed contract appear (the
              contract PDF is downloaded and its signature checked with verify_pdf)
 6. finance   (财务) issues the invoice in the admin with a valid 20-digit number
 7. customer  sees the number and asks for a PARTIAL refund
 8. finance   approves and completes it in the admin
 9. finance   finds the red-letter invoice queued (purpose red_letter, negative total);
              the customer sees the refund 已退款 and the order back in 交易成功

Each customer and staff member has their own browser context (the customer's own, the
reviewer's, finance's), so each hand-off really goes through what the previous role
left in the database and the pages.

Why one test per language and not one test per hand-off: the `live_server` fixture
makes every test transactional, and pytest-django flushes the database after each
test, so no scenario can outlive a test; rebuilding each step's starting point through
the services would stop proving that what one role leaves in the browser is what the
next one finds. So the journey is one test, parametrized by language, and each
hand-off is a numbered step function (`step_01_customer_orders_by_key` …) run inside
`Journey.step`: a failure names its step and language in the report (an exception
note) and leaves a `journey-<lang>-NN-<step>-FAILED*.png` screenshot of every open
page; later steps do not run.

Language: the zh-hans run uses the shop's default (the browser asks for English and
must be ignored); the en run presses the footer's language switch as the customer
and gives the staff contexts the django_language cookie. Screens are saved as
test-artifacts/journey-<lang>-NN-<screen>.png.

Elements are found by data-testid, data-* attributes, name and href. Assertions are on
states (data-status, data-purpose), numbers and amounts; the only translated labels
asserted are 交易成功, 待开票, 已退款 and their English counterparts.
"""

import contextlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import InvoiceProfile
from accounts.roles import GROUP_FINANCE, GROUP_REVIEWERS
from accounts.tests.factories import UserFactory
from catalog.tests.factories import ModuleFactory, PlatformFactory, ProductLineFactory, ServiceFactory, sample_key
from invoicing.models import Contract, Invoice
from invoicing.signing import verify_pdf
from orders.models import Order
from orders.tests.factories import AgreementFactory
from refunds.models import RefundRequest

from .data import NEW_INVOICE
from .pages import order_block, sign_in

PRICE = Decimal("2000.00")
REFUND = Decimal("500.00")
REJECT_REASON = "店铺名称与平台不一致"
NEW_STORE_NAME = "云测京东官方旗舰店"
REFUND_REFERENCE = "WX-REFUND-JOURNEY-0001"
# 20 digits: the issue year % 100, then a province code (31 上海), then a serial.
INVOICE_NUMBER = f"{timezone.localdate().year % 100:02d}31" + "0000000000008888"
DETAILS = {
    "contract_customer_name": "上海云测贸易有限公司",
    "marketplace_order_no": "JD-20261126-0001",
    "store_name": "云测旗舰店",
    "seller_nick": "yunce_shop",
    "service_engineer": "李工",
    "reminder_name": "王小明",
    "reminder_mobile": "138 0013 8000",
    "reminder_email": "wang@example.com",
}
# The few labels asserted as text, straight from the catalogue (zh) and the msgids (en).
LABELS = {
    "zh-hans": {"success": "交易成功", "to_be_issued": "待开票", "refunded": "已退款"},
    "en": {"success": "Trade successful", "to_be_issued": "To be issued", "refunded": "Refunded"},
}


@dataclass
class Scenario:
    customer: object
    reviewer: object
    finance: object
    service: object
    decoy: object  # the same platform and module in the product the customer does NOT hold
    key: str


@pytest.fixture
def scenario(transactional_db):
    """An E3+ customer holding an E3全渠道 key (the guide's warning): both products sell
    the same platform × module, and only the key tells which service to buy. The
    platform is refundable and the service has a 7-day refund window."""
    AgreementFactory()
    e3plus = ProductLineFactory(name="E3+旗舰版")
    e3omni = ProductLineFactory(name="E3全渠道")
    platform = PlatformFactory(name="京东", refundable=True)
    module = ModuleFactory(name="开放平台对接服务")
    decoy = ServiceFactory(product_line=e3plus, platform=platform, module=module, standard_price=PRICE)
    service = ServiceFactory(
        product_line=e3omni, platform=platform, module=module, standard_price=PRICE, period_months=12, refund_window_days=7
    )
    reviewer = UserFactory(staff=True, groups=[GROUP_REVIEWERS], real_name="审核员甲")
    finance = UserFactory(staff=True, groups=[GROUP_FINANCE], real_name="财务乙")
    assert reviewer.has_perm("orders.review_order") and not reviewer.is_superuser
    assert finance.has_perm("invoicing.issue_invoice") and finance.has_perm("refunds.complete_refund")
    customer = UserFactory(company="上海云测贸易有限公司")
    assert not customer.invoice_profiles.exists()
    return Scenario(customer, reviewer, finance, service, decoy, key=sample_key(e3omni, 0x3C4D))


@dataclass
class Journey:
    lang: str
    base: str
    s: Scenario
    customer: Page
    reviewer: Page
    finance: Page
    artifacts: Path
    shots: int = 0
    order: Order | None = None
    invoice: Invoice | None = None
    refund: RefundRequest | None = None
    current: str = ""
    labels: dict = field(default_factory=dict)

    # --- helpers ---------------------------------------------------------------------

    def shot(self, page: Page, name: str) -> None:
        self.shots += 1
        page.screenshot(path=self.artifacts / f"journey-{self.lang}-{self.shots:02d}-{name}.png", full_page=True)

    @contextlib.contextmanager
    def step(self, number: int, name: str):
        self.current = f"{number:02d}-{name}"
        try:
            yield
        except BaseException as error:
            for role in ("customer", "reviewer", "finance"):
                with contextlib.suppress(Exception):
                    getattr(self, role).screenshot(
                        path=self.artifacts / f"journey-{self.lang}-{self.current}-FAILED-{role}.png", full_page=True
                    )
            error.add_note(f"journey ({self.lang}) failed in step {self.current}")
            raise

    def sign_in(self, page: Page, login_url: str, user, path: str) -> None:
        sign_in(page, login_url, user, path, self.base)

    def admin_sign_in(self, page: Page, user) -> None:
        self.sign_in(page, reverse("admin:login"), user, reverse("admin:index"))

    def order_block(self, page: Page):
        return order_block(page, self.order)

    def refresh(self) -> Order:
        self.order.refresh_from_db()
        return self.order

    def expect_lang(self, page: Page) -> None:
        expect(page.locator("html")).to_have_attribute("lang", self.lang)

    # --- the hand-offs -----------------------------------------------------------------

    def step_01_customer_orders_by_key(self) -> None:
        page, s = self.customer, self.s
        finder = reverse("catalog:key-finder")
        page.goto(self.base + reverse("catalog:home"))
        if self.lang != settings.LANGUAGE_CODE:
            # The footer's language switch (a POST to set_language, back to this page).
            page.locator(f"footer button[name=language][value={self.lang}]").click()
            expect(page).to_have_url(self.base + reverse("catalog:home"))
        self.expect_lang(page)
        self.sign_in(page, reverse("accounts:login"), s.customer, finder)
        expect(page.get_by_test_id("user-menu")).to_be_visible()
        self.expect_lang(page)

        # The key as typed on a sticker: lower case, a space for a hyphen.
        typed = s.key.lower().replace("-", " ", 1)
        page.locator("main form [name=key]").fill(typed)
        page.locator("main form[action] [type=submit]").first.click()
        expect(page.get_by_test_id("key-result")).to_contain_text(s.key)
        expect(page.get_by_test_id("key-result")).to_contain_text(s.service.product_line.name)
        cards = page.locator("main .service-card h3")
        expect(cards).to_have_text([s.service.name])  # not the E3+ service of the same platform and module
        self.shot(page, "key-finder")
        page.locator("main").get_by_role("link", name=s.service.name).click()
        expect(page).to_have_url(self.base + reverse("catalog:service-detail", args=[s.service.pk]))
        expect(page.get_by_role("heading", level=1)).to_have_text(s.service.name)
        expect(page.get_by_test_id("price")).to_contain_text(str(PRICE))
        self.shot(page, "service")

        page.get_by_test_id("buy-now").click()
        expect(page).to_have_url(self.base + reverse("orders:checkout", args=[s.service.pk]))
        form = page.get_by_test_id("checkout-form")
        expect(form.get_by_test_id("invoice-option")).to_have_count(0)  # no saved profile yet
        expect(form.get_by_test_id("total")).to_have_text(f"¥{PRICE}")
        form.locator("#invoice-new").check()
        form.locator("input[name='new_invoice-kind'][value=special]").check()
        form.locator("input[name='new_invoice-title_type'][value=company]").check()
        for name, value in NEW_INVOICE.items():
            form.locator(f"[name='new_invoice-{name}']").fill(value)
        for name, value in DETAILS.items():
            form.locator(f"[name={name}]").fill(value)
        form.locator("[name=agreement_accepted]").check()
        self.shot(page, "checkout")
        form.get_by_test_id("submit-order").click()

        expect(page).to_have_url(self.base + reverse("orders:list") + "?tab=awaiting")
        self.order = Order.objects.get(customer=s.customer)
        order = self.order
        assert (order.status, order.total) == (Order.Status.AWAITING_PAYMENT, PRICE)
        assert list(order.lines.values_list("service_id", "quantity")) == [(s.service.pk, 1)]
        profile = InvoiceProfile.objects.get(user=s.customer)
        assert (profile.kind, profile.taxpayer_id, profile.bank, profile.account) == (
            InvoiceProfile.Kind.SPECIAL,
            NEW_INVOICE["taxpayer_id"],
            NEW_INVOICE["bank"],
            NEW_INVOICE["account"],
        )
        assert (order.invoice_kind, order.invoice_taxpayer_id) == (InvoiceProfile.Kind.SPECIAL, NEW_INVOICE["taxpayer_id"])
        block = self.order_block(page)
        expect(block.locator("[data-status]")).to_have_attribute("data-status", Order.Status.AWAITING_PAYMENT)
        expect(block).to_contain_text(order.lines.get().serial)
        self.shot(page, "orders-awaiting")

    def step_02_reviewer_rejects(self) -> None:
        admin, order = self.reviewer, self.order
        self.admin_sign_in(admin, self.s.reviewer)
        expect(admin.locator("[data-queue=review] td.count")).to_have_text("1")
        changelist = reverse("admin:orders_order_changelist")
        admin.locator(f"[data-queue=review] a[href^='{changelist}']").click()
        rows = admin.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.locator("[data-status]")).to_have_attribute("data-status", Order.Status.AWAITING_PAYMENT)
        change_url = reverse("admin:orders_order_change", args=[order.pk])
        rows.locator(f"a[href^='{change_url}']").click()
        expect(admin).to_have_url(re.compile(re.escape(self.base + change_url)))
        self.shot(admin, "admin-order")
        admin.locator(".object-tools a[data-move=reject]").click()
        expect(admin).to_have_url(self.base + reverse("admin:orders_order_reject", args=[order.pk]))
        form = admin.locator("#content-main form:has([name=reason])")
        form.locator("[name=reason]").fill(REJECT_REASON)
        self.shot(admin, "admin-reject")
        form.locator("[type=submit].default").click()
        expect(admin).to_have_url(self.base + change_url)
        expect(admin.locator(".messagelist .success")).to_have_count(1)
        expect(admin.locator(".field-status_label [data-status]")).to_have_attribute("data-status", Order.Status.REJECTED)
        self.refresh()
        assert (order.status, order.rejection_reason) == (Order.Status.REJECTED, REJECT_REASON)
        assert order.events.filter(action="reject", actor=self.s.reviewer).count() == 1

    def step_03_customer_modifies_and_resubmits(self) -> None:
        page, order = self.customer, self.order
        page.goto(self.base + reverse("orders:list") + "?tab=awaiting")
        self.expect_lang(page)
        block = self.order_block(page)
        expect(block.locator("[data-status]")).to_have_attribute("data-status", Order.Status.REJECTED)
        expect(block.get_by_test_id("rejection-reason")).to_contain_text(REJECT_REASON)
        self.shot(page, "orders-rejected")
        edit_url = reverse("orders:edit", args=[order.number])
        block.locator(f".order-actions a[href='{edit_url}']").click()  # 修改信息
        expect(page).to_have_url(self.base + edit_url)
        expect(page.get_by_test_id("resubmit-note")).to_contain_text(REJECT_REASON)
        form = page.locator("main form:has([name=store_name])")
        form.locator("[name=store_name]").fill(NEW_STORE_NAME)
        self.shot(page, "modify")
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(self.base + order.get_absolute_url())
        expect(page.get_by_test_id("order-details")).to_contain_text(NEW_STORE_NAME)
        expect(page.locator("main [data-status]").first).to_have_attribute("data-status", Order.Status.AWAITING_PAYMENT)
        self.shot(page, "resubmitted")
        self.refresh()
        assert (order.status, order.store_name) == (Order.Status.AWAITING_PAYMENT, NEW_STORE_NAME)
        assert order.events.filter(action="resubmit", actor=self.s.customer).count() == 1

    def step_04_reviewer_approves(self) -> None:
        admin, order = self.reviewer, self.order
        change_url = reverse("admin:orders_order_change", args=[order.pk])
        admin.goto(self.base + change_url)
        expect(admin.locator(".field-status_label [data-status]")).to_have_attribute(
            "data-status", Order.Status.AWAITING_PAYMENT
        )
        admin.locator(".object-tools a[data-move=approve]").click()
        expect(admin).to_have_url(self.base + reverse("admin:orders_order_approve", args=[order.pk]))
        form = admin.locator("#content-main form:has([name=paid_amount])")
        assert Decimal(form.locator("[name=paid_amount]").input_value()) == PRICE
        expect(form.locator("[name=service_start]")).to_have_value(timezone.localdate().isoformat())
        self.shot(admin, "admin-approve")
        form.locator("[type=submit].default").click()
        expect(admin).to_have_url(self.base + change_url)
        expect(admin.locator(".messagelist .success")).to_have_count(1)
        expect(admin.locator(".field-status_label [data-status]")).to_have_attribute("data-status", Order.Status.IN_TRADE)
        self.refresh()
        assert (order.status, order.paid_amount) == (Order.Status.IN_TRADE, PRICE)
        assert order.events.filter(action="approve", actor=self.s.reviewer).count() == 1

    def step_05_customer_confirms_receipt(self) -> None:
        page, order = self.customer, self.order
        page.goto(self.base + reverse("orders:list") + "?tab=in_trade")
        block = self.order_block(page)
        expect(block.locator("[data-status]")).to_have_attribute("data-status", Order.Status.IN_TRADE)
        line = order.lines.get()
        assert line.service_start == timezone.localdate() and line.service_end > line.service_start
        line_row = block.locator("tr", has_text=line.serial)
        expect(line_row).to_contain_text(line.service_start.isoformat())
        expect(line_row).to_contain_text(line.service_end.isoformat())
        self.shot(page, "orders-in-trade")
        block.locator(f"form[action='{reverse('orders:confirm', args=[order.number])}'] [type=submit]").click()
        expect(page).to_have_url(self.base + order.get_absolute_url())
        status = page.locator("main [data-status]").first
        expect(status).to_have_attribute("data-status", Order.Status.SUCCESS)
        expect(status).to_have_text(self.labels["success"])

        # The documents are made once the confirmation commits: one invoice, one contract.
        self.refresh()
        assert order.status == Order.Status.SUCCESS
        self.invoice = Invoice.objects.get(order=order)
        invoice = self.invoice
        assert (invoice.status, invoice.kind, invoice.total, invoice.buyer_taxpayer_id) == (
            Invoice.Status.PENDING,
            InvoiceProfile.Kind.SPECIAL,
            PRICE,
            NEW_INVOICE["taxpayer_id"],
        )
        assert invoice.amount + invoice.tax == PRICE and invoice.tax > 0
        contract = Contract.objects.get(order=order)

        section = page.get_by_test_id("order-invoices")
        expect(section.get_by_test_id("invoice-status")).to_have_text(self.labels["to_be_issued"])
        expect(section.get_by_test_id("invoice-number")).to_have_text("—")
        expect(section).to_contain_text(f"¥{PRICE}")
        self.shot(page, "order-success-invoice-pending")
        with page.expect_download() as info:
            section.get_by_test_id("contract-download").click()
        pdf = Path(info.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF-")
        result = verify_pdf(pdf)
        assert result.valid and result.intact, result
        assert result.signer
        assert contract.sha256 and len(pdf) > 1000

        page.goto(self.base + reverse("orders:list") + "?tab=success")
        block = self.order_block(page)
        expect(block.locator("[data-status]")).to_have_attribute("data-status", Order.Status.SUCCESS)
        expect(block.get_by_test_id("contract-link")).to_have_attribute(
            "href", reverse("invoicing:contract", args=[order.number])
        )
        self.shot(page, "orders-success")

    def step_06_finance_issues_invoice(self) -> None:
        admin, invoice = self.finance, self.invoice
        self.admin_sign_in(admin, self.s.finance)
        expect(admin.locator("[data-queue=invoices] td.count")).to_have_text("1")
        changelist = reverse("admin:invoicing_invoice_changelist")
        admin.locator(f"[data-queue=invoices] a[href^='{changelist}']").click()
        rows = admin.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.locator("[data-status]")).to_have_attribute("data-status", Invoice.Status.PENDING)
        expect(rows.locator("[data-purpose]")).to_have_attribute("data-purpose", Invoice.Purpose.ORIGINAL)
        self.shot(admin, "admin-invoice-queue")
        change_url = reverse("admin:invoicing_invoice_change", args=[invoice.pk])
        rows.locator(f"a[href^='{change_url}']").click()
        expect(admin).to_have_url(re.compile(re.escape(self.base + change_url)))
        admin.locator(".object-tools a[data-move=issue]").click()
        expect(admin).to_have_url(self.base + reverse("admin:invoicing_invoice_issue", args=[invoice.pk]))
        form = admin.locator("#content-main form:has([name=number])")
        expect(form.locator("[name=issued_on]")).to_have_value(timezone.localdate().isoformat())
        form.locator("[name=number]").fill(INVOICE_NUMBER)
        self.shot(admin, "admin-invoice-issue")
        form.locator("[type=submit].default").click()
        expect(admin).to_have_url(self.base + change_url)
        expect(admin.locator(".messagelist .success")).to_have_count(1)
        expect(admin.locator(".field-status_label [data-status]")).to_have_attribute("data-status", Invoice.Status.ISSUED)
        invoice.refresh_from_db()
        assert (invoice.status, invoice.number, invoice.issued_on) == (
            Invoice.Status.ISSUED,
            INVOICE_NUMBER,
            timezone.localdate(),
        )

    def step_07_customer_requests_partial_refund(self) -> None:
        page, order = self.customer, self.order
        page.goto(self.base + order.get_absolute_url())
        section = page.get_by_test_id("order-invoices")
        expect(section.get_by_test_id("invoice-number")).to_have_text(INVOICE_NUMBER)
        expect(section.get_by_test_id("invoice-status")).not_to_have_text(self.labels["to_be_issued"])
        self.shot(page, "order-invoice-issued")

        request_url = reverse("refunds:request", args=[order.number])
        page.get_by_test_id("refund-link").first.click()
        expect(page).to_have_url(self.base + request_url)
        expect(page.get_by_test_id("refundable-amount")).to_contain_text(str(PRICE))
        form = page.get_by_test_id("refund-form")
        form.locator("[name=amount]").fill(str(REFUND))
        form.locator("[name=reason][value=not_activated]").check()
        form.locator("[name=description]").fill("一个店铺尚未开通, 退其中一部分")
        form.locator("[name=contact_mobile]").fill("13800138000")
        self.shot(page, "refund-request")
        page.get_by_test_id("refund-submit").click()

        expect(page).to_have_url(re.compile(re.escape(self.base + reverse("refunds:list"))))
        self.refund = RefundRequest.objects.get(order=order)
        refund = self.refund
        assert (refund.status, refund.amount) == (RefundRequest.Status.PENDING, REFUND)
        row = page.locator(f"tr[data-refund='{refund.number}']")
        expect(row.get_by_test_id("refund-status")).to_have_attribute("data-status", RefundRequest.Status.PENDING)
        expect(row.get_by_test_id("refund-amount")).to_contain_text(str(REFUND))
        self.shot(page, "refund-pending")
        assert self.refresh().status == Order.Status.REFUNDING

    def step_08_finance_completes_refund(self) -> None:
        admin, refund = self.finance, self.refund
        admin.goto(self.base + reverse("admin:index"))
        expect(admin.locator("[data-queue=refunds] td.count")).to_have_text("1")
        changelist = reverse("admin:refunds_refundrequest_changelist")
        admin.locator(f"[data-queue=refunds] a[href^='{changelist}']").click()
        rows = admin.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.locator("[data-status]")).to_have_attribute("data-status", RefundRequest.Status.PENDING)
        self.shot(admin, "admin-refund-queue")
        change_url = reverse("admin:refunds_refundrequest_change", args=[refund.pk])
        rows.locator(f"a[href^='{change_url}']").click()
        expect(admin).to_have_url(re.compile(re.escape(self.base + change_url)))

        admin.locator(".object-tools a[data-move=approve]").click()
        expect(admin).to_have_url(self.base + reverse("admin:refunds_refundrequest_approve", args=[refund.pk]))
        self.shot(admin, "admin-refund-approve")
        admin.locator("#content-main form [type=submit].default").click()
        expect(admin).to_have_url(self.base + change_url)
        expect(admin.locator(".field-status_label [data-status]")).to_have_attribute(
            "data-status", RefundRequest.Status.APPROVED
        )

        admin.locator(".object-tools a[data-move=complete]").click()
        expect(admin).to_have_url(self.base + reverse("admin:refunds_refundrequest_complete", args=[refund.pk]))
        outcome = admin.get_by_test_id("invoice-outcome")
        expect(outcome).to_have_attribute("data-outcome", "red_letter")
        expect(outcome).to_have_attribute("data-red-letter", f"-{REFUND}")
        expect(outcome).to_contain_text(INVOICE_NUMBER)
        form = admin.locator("#content-main form:has([name=reference])")
        form.locator("[name=reference]").fill(REFUND_REFERENCE)
        self.shot(admin, "admin-refund-complete")
        form.locator("[type=submit].default").click()
        expect(admin).to_have_url(self.base + change_url)
        expect(admin.locator(".messagelist .success")).to_have_count(1)
        expect(admin.locator(".field-status_label [data-status]")).to_have_attribute(
            "data-status", RefundRequest.Status.COMPLETED
        )
        self.shot(admin, "admin-refund-completed")
        refund.refresh_from_db()
        assert (refund.status, refund.reference, refund.completed_by) == (
            RefundRequest.Status.COMPLETED,
            REFUND_REFERENCE,
            self.s.finance,
        )
        order = self.refresh()
        # A partial refund: the order returns to 交易成功 with the rest still paid.
        assert (order.status, order.refunded_amount, order.refundable_amount) == (
            Order.Status.SUCCESS,
            REFUND,
            PRICE - REFUND,
        )

    def step_09_red_letter_invoice_queued(self) -> None:
        admin, page = self.finance, self.customer
        admin.goto(self.base + reverse("admin:invoicing_invoice_changelist") + "?status__exact=pending")
        rows = admin.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.locator("[data-purpose]")).to_have_attribute("data-purpose", Invoice.Purpose.RED_LETTER)
        expect(rows.locator("[data-original]")).to_have_attribute("data-original", INVOICE_NUMBER)
        expect(rows.locator("[data-status]")).to_have_attribute("data-status", Invoice.Status.PENDING)
        expect(rows.locator("td.field-total")).to_have_text(re.compile(rf"^-{re.escape(str(REFUND))}$"))
        self.shot(admin, "admin-red-letter-queued")
        red = Invoice.objects.get(order=self.order, purpose=Invoice.Purpose.RED_LETTER)
        assert (red.status, red.total, red.original_id) == (Invoice.Status.PENDING, -REFUND, self.invoice.pk)
        assert red.amount + red.tax == -REFUND
        self.invoice.refresh_from_db()
        assert self.invoice.status == Invoice.Status.ISSUED  # 已红冲 only once the red-letter one is issued

        # The customer: the refund 已退款 under 退款管理, the order back in 交易成功.
        page.goto(self.base + reverse("refunds:list"))
        self.expect_lang(page)
        row = page.locator(f"tr[data-refund='{self.refund.number}']")
        status = row.get_by_test_id("refund-status")
        expect(status).to_have_attribute("data-status", RefundRequest.Status.COMPLETED)
        expect(status).to_have_text(self.labels["refunded"])
        expect(row.get_by_test_id("refund-reference")).to_contain_text(REFUND_REFERENCE)
        expect(row.get_by_test_id("refund-amount")).to_contain_text(str(REFUND))
        self.shot(page, "refund-completed")
        page.goto(self.base + reverse("orders:list") + "?tab=success")
        block = self.order_block(page)
        expect(block.locator("[data-status]")).to_have_attribute("data-status", Order.Status.SUCCESS)
        expect(block.locator("[data-status]")).to_have_text(self.labels["success"])
        self.shot(page, "orders-success-after-refund")


STEPS = [
    (1, "customer-orders-by-key", Journey.step_01_customer_orders_by_key),
    (2, "reviewer-rejects", Journey.step_02_reviewer_rejects),
    (3, "customer-modifies-resubmits", Journey.step_03_customer_modifies_and_resubmits),
    (4, "reviewer-approves", Journey.step_04_reviewer_approves),
    (5, "customer-confirms-receipt", Journey.step_05_customer_confirms_receipt),
    (6, "finance-issues-invoice", Journey.step_06_finance_issues_invoice),
    (7, "customer-requests-partial-refund", Journey.step_07_customer_requests_partial_refund),
    (8, "finance-completes-refund", Journey.step_08_finance_completes_refund),
    (9, "red-letter-invoice-queued", Journey.step_09_red_letter_invoice_queued),
]


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_journey(lang, page: Page, new_context, live_server, scenario, artifacts_dir):
    staff_cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": live_server.url}]

    def staff_page() -> Page:
        context = new_context(viewport={"width": 1600, "height": 900})  # the admin's queues are wide tables
        if lang != settings.LANGUAGE_CODE:
            context.add_cookies(staff_cookies)
        return context.new_page()

    journey = Journey(
        lang=lang,
        base=live_server.url,
        s=scenario,
        customer=page,
        reviewer=staff_page(),
        finance=staff_page(),
        artifacts=artifacts_dir,
        labels=LABELS[lang],
    )
    for number, name, run in STEPS:
        with journey.step(number, name):
            run(journey)
    assert journey.shots >= 25
