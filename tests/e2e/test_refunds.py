"""Refunds in a real browser (issue 6, guide steps 6 and 7): the customer asks for a refund
of a confirmed order on a refundable platform whose invoice was already issued; finance
approves and completes it in the admin (the page says a red-letter invoice will reverse
the issued one); the customer sees the refund completed under 退款管理 and the order
under 交易失败, and the red-letter invoice waits in finance's invoice queue.

Elements are found by data-testid, data-* attributes, name and href, not by UI text,
which is being translated.
"""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.roles import GROUP_FINANCE
from accounts.tests.factories import UserFactory
from invoicing import services as invoicing_services
from invoicing.models import Invoice
from orders.models import Order, OrderEvent
from orders.tests.factories import order_in
from refunds.models import RefundRequest

from .pages import sign_in

INVOICE_NUMBER = f"{timezone.localdate().year % 100:02d}310000000000000001"
REFERENCE = "WX-REFUND-20260101-0001"


@pytest.fixture
def people(transactional_db):
    """Finance (in the migrations' 财务, restored by UserFactory after a flush), the
    customer, and the customer's confirmed order (¥2000.00 paid) on a refundable platform
    with a 7-day refund window, its invoice made and issued."""
    finance = UserFactory(staff=True, groups=[GROUP_FINANCE], real_name="财务乙")
    assert finance.has_perm("refunds.complete_refund") and not finance.is_superuser
    order = order_in(Order.Status.SUCCESS)
    line = order.lines.select_related("service__platform").get()
    line.service.platform.refundable = True
    line.service.platform.save()
    line.service.refund_window_days = 7
    line.service.save()
    invoicing_services.documents_generate(order_id=order.pk)
    invoicing_services.invoice_issue(
        invoice=order.invoices.get(), actor=finance, number=INVOICE_NUMBER, issued_on=timezone.localdate()
    )
    order.refresh_from_db()
    return finance, order.customer, order


def test_customer_requests_finance_completes_customer_sees_it_refunded(
    page: Page, new_context, live_server, people, artifacts_dir
):
    finance, customer, order = people
    base = live_server.url
    customer_page = page
    refunds_url = reverse("refunds:list")
    request_url = reverse("refunds:request", args=[order.number])

    # The customer opens the confirmed order and follows 退款.
    sign_in(customer_page, reverse("accounts:login"), customer, order.get_absolute_url(), base)
    customer_page.get_by_test_id("refund-link").first.click()
    expect(customer_page).to_have_url(base + request_url)
    expect(customer_page.get_by_test_id("refundable-amount")).to_contain_text("2000.00")
    form = customer_page.get_by_test_id("refund-form")
    expect(form.locator("[name=amount]")).to_have_value("2000.00")  # the refundable remainder
    form.locator("[name=reason][value=not_activated]").check()
    form.locator("[name=description]").fill("店铺尚未开通对接服务")
    form.locator("[name=contact_mobile]").fill("13800138000")
    customer_page.screenshot(path=artifacts_dir / "refund-customer-request.png", full_page=True)
    customer_page.get_by_test_id("refund-submit").click()

    # The request waits for finance; the order is 退款中.
    expect(customer_page).to_have_url(re.compile(re.escape(base + refunds_url)))
    refund = RefundRequest.objects.get(order=order)
    assert (refund.status, refund.amount, refund.reason) == (RefundRequest.Status.PENDING, Decimal("2000.00"), "not_activated")
    row = customer_page.locator(f"tr[data-refund='{refund.number}']")
    expect(row.get_by_test_id("refund-status")).to_have_attribute("data-status", RefundRequest.Status.PENDING)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDING
    customer_page.screenshot(path=artifacts_dir / "refund-customer-pending.png", full_page=True)

    # Finance finds it in the queue on the admin index.
    admin = new_context(viewport={"width": 1600, "height": 900}).new_page()
    sign_in(admin, reverse("admin:login"), finance, reverse("admin:index"), base)
    expect(admin.locator("[data-queue=refunds] td.count")).to_have_text("1")
    admin.screenshot(path=artifacts_dir / "refund-admin-index.png", full_page=True)
    changelist = reverse("admin:refunds_refundrequest_changelist")
    admin.locator(f"[data-queue=refunds] a[href^='{changelist}']").click()
    rows = admin.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("[data-status]")).to_have_attribute("data-status", RefundRequest.Status.PENDING)
    expect(rows.locator("[data-age]")).to_have_count(1)
    admin.screenshot(path=artifacts_dir / "refund-admin-queue.png", full_page=True)
    change_url = reverse("admin:refunds_refundrequest_change", args=[refund.pk])
    rows.locator(f"a[href^='{change_url}']").click()
    expect(admin).to_have_url(re.compile(re.escape(base + change_url)))
    expect(admin.locator(".object-tools a[data-move]")).to_have_count(2)  # approve, reject: not yet complete
    admin.screenshot(path=artifacts_dir / "refund-admin-change.png", full_page=True)

    # 同意.
    admin.locator(".object-tools a[data-move=approve]").click()
    expect(admin).to_have_url(base + reverse("admin:refunds_refundrequest_approve", args=[refund.pk]))
    admin.screenshot(path=artifacts_dir / "refund-admin-approve.png", full_page=True)
    admin.locator("#content-main form [type=submit].default").click()
    expect(admin).to_have_url(base + change_url)
    expect(admin.locator(".messagelist .success")).to_have_count(1)
    expect(admin.locator(".field-status_label [data-status]")).to_have_attribute("data-status", RefundRequest.Status.APPROVED)

    # 完成退款: a red-letter invoice will reverse the issued one, for a full refund 服务终止.
    admin.locator(".object-tools a[data-move=complete]").click()
    expect(admin).to_have_url(base + reverse("admin:refunds_refundrequest_complete", args=[refund.pk]))
    outcome = admin.get_by_test_id("invoice-outcome")
    expect(outcome).to_have_attribute("data-outcome", "red_letter")
    expect(outcome).to_have_attribute("data-red-letter", "-2000.00")
    expect(outcome).to_contain_text(INVOICE_NUMBER)
    form = admin.locator("#content-main form:has([name=reference])")
    expect(form.locator("[name=refunded_on]")).to_have_value(timezone.localdate().isoformat())
    expect(form.locator("[name=red_reason]")).to_have_value(Invoice.RedReason.SERVICE_TERMINATION)

    # Without the reference: refused beside the field, nothing changes.
    form.locator("[type=submit].default").click()
    expect(admin.locator(".field-reference.errors .errorlist")).not_to_be_empty()
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.APPROVED

    form.locator("[name=reference]").fill(REFERENCE)
    admin.screenshot(path=artifacts_dir / "refund-admin-complete.png", full_page=True)
    form.locator("[type=submit].default").click()
    expect(admin).to_have_url(base + change_url)
    expect(admin.locator(".messagelist .success")).to_have_count(1)
    expect(admin.locator(".field-status_label [data-status]")).to_have_attribute(
        "data-status", RefundRequest.Status.COMPLETED
    )
    expect(admin.locator(".object-tools a[data-move]")).to_have_count(0)
    admin.screenshot(path=artifacts_dir / "refund-admin-completed.png", full_page=True)

    refund.refresh_from_db()
    assert (refund.status, refund.reference, refund.refunded_on, refund.completed_by) == (
        RefundRequest.Status.COMPLETED,
        REFERENCE,
        timezone.localdate(),
        finance,
    )
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, Decimal("2000.00"))
    assert [(e.action, e.actor_id) for e in OrderEvent.objects.filter(order=order, action__in=["approve_refund", "complete_refund"]).order_by("at", "id")] == [
        ("approve_refund", finance.pk),
        ("complete_refund", finance.pk),
    ]
    red = Invoice.objects.get(order=order, purpose=Invoice.Purpose.RED_LETTER)
    assert (red.status, red.total, red.original.number, red.red_reason) == (
        Invoice.Status.PENDING,
        Decimal("-2000.00"),
        INVOICE_NUMBER,
        Invoice.RedReason.SERVICE_TERMINATION,
    )

    # The red-letter invoice waits in finance's invoice queue, naming the original.
    admin.goto(base + reverse("admin:invoicing_invoice_changelist") + "?status__exact=pending")
    invoice_rows = admin.locator("#result_list tbody tr")
    expect(invoice_rows).to_have_count(1)
    expect(invoice_rows.locator("[data-purpose]")).to_have_attribute("data-purpose", Invoice.Purpose.RED_LETTER)
    expect(invoice_rows.locator("[data-original]")).to_have_attribute("data-original", INVOICE_NUMBER)
    admin.screenshot(path=artifacts_dir / "refund-admin-red-letter-invoice.png", full_page=True)

    # The customer sees the refund completed in 退款管理, with its reference.
    customer_page.goto(base + refunds_url)
    row = customer_page.locator(f"tr[data-refund='{refund.number}']")
    expect(row.get_by_test_id("refund-status")).to_have_attribute("data-status", RefundRequest.Status.COMPLETED)
    expect(row.get_by_test_id("refund-reference")).to_contain_text(REFERENCE)
    expect(row.get_by_test_id("refund-amount")).to_contain_text("2000.00")
    expect(row.get_by_test_id("refund-withdraw")).to_have_count(0)
    customer_page.screenshot(path=artifacts_dir / "refund-customer-completed.png", full_page=True)

    # And the order under 交易失败 in My Orders, as refunded.
    customer_page.goto(base + reverse("orders:list"))
    customer_page.locator("[data-tab=failed]").click()
    expect(customer_page).to_have_url(base + reverse("orders:list") + "?tab=failed")
    block = customer_page.locator(f"tbody[data-order='{order.number}']")
    expect(block.locator("[data-status]")).to_have_attribute("data-status", Order.Status.REFUNDED)
    customer_page.screenshot(path=artifacts_dir / "refund-customer-trade-failed.png", full_page=True)
