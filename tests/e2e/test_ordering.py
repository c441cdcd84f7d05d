"""Ordering in a real browser (issue 3, guide steps 3–4): a signed-in customer with no
saved invoice profile buys a service, adding a special VAT invoice profile on the
checkout page; lands in 等待付款; opens the order, modifies it; cancels another order
and finds it under 交易失败. And a checkout with errors keeps what was typed.

Elements are found by data-testid, name, id and href, not by UI text, which is being
translated. The few labels asserted (the timeline's action and field names) are
looked up through the same translation catalogue the live server uses.
"""

import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import Page, expect

from accounts.models import InvoiceProfile
from accounts.tests.factories import UserFactory
from catalog.tests.factories import ServiceFactory
from orders import services
from orders.models import Order, OrderEvent, OrderLine
from orders.tests.factories import AgreementFactory, submitted_order

from .data import NEW_INVOICE
from .pages import order_block, sign_in

DETAILS = {
    "contract_customer_name": "上海云测贸易有限公司",
    "marketplace_order_no": "JD-20261126-0001",
    "store_name": "云测旗舰店",
    "seller_nick": "yunce_shop",
    "service_engineer": "李工",
    "reminder_name": "王小明",
    "reminder_mobile": "138 0013 8000",
    "reminder_email": "wang@example.com",
    "reminder_cc_email": "li@example.com",
    "remarks": "开票后请邮寄至公司前台。",
}
NEW_STORE_NAME = "云测官方旗舰店"


@pytest.fixture
def shop(transactional_db):
    """A published agreement, the service to buy, and a customer with no invoice profile."""
    AgreementFactory()
    service = ServiceFactory()
    customer = UserFactory()
    assert not customer.invoice_profiles.exists()
    return service, customer


def sign_in_to(page: Page, base: str, customer, path: str) -> None:
    """Sign in on the shop's login page and come back to `path`, the user menu shown."""
    sign_in(page, reverse("accounts:login"), customer, path, base)
    expect(page.get_by_test_id("user-menu")).to_be_visible()


def buy_now(page: Page, base: str, service) -> None:
    page.get_by_test_id("buy-now").click()
    expect(page).to_have_url(base + reverse("orders:checkout", args=[service.pk]))
    expect(page.get_by_test_id("checkout-form")).to_be_visible()


def fill_new_invoice(form, values: dict) -> None:
    """添加一个新开票 → a company 增值税专用发票 (special VAT) profile."""
    form.locator("#invoice-new").check()
    form.locator("input[name='new_invoice-kind'][value=special]").check()
    form.locator("input[name='new_invoice-title_type'][value=company]").check()
    for name, value in values.items():
        form.locator(f"[name='new_invoice-{name}']").fill(value)


def fill_details(form, values: dict) -> None:
    """Every 补充信息 field and 备注."""
    for name, value in values.items():
        form.locator(f"[name={name}]").fill(value)


def labels(*names):
    """The live server's text for action `names[0]` and Order field names[1:]."""
    with translation.override(settings.LANGUAGE_CODE):
        action = str(services.ACTION_LABELS[names[0]])
        fields = [str(Order._meta.get_field(name).verbose_name) for name in names[1:]]
    return action, fields


def test_customer_orders_edits_and_cancels(page: Page, live_server, shop, artifacts_dir):
    service, customer = shop
    base = live_server.url
    service_path = reverse("catalog:service-detail", args=[service.pk])

    # Sign in, open the service, 立即购买.
    sign_in_to(page, base, customer, service_path)
    buy_now(page, base, service)

    # The checkout form: no saved profile, so 添加一个新开票 is the only invoice choice.
    form = page.get_by_test_id("checkout-form")
    expect(form.get_by_test_id("invoice-option")).to_have_count(0)
    expect(form.locator("#invoice-new")).to_be_checked()
    expect(form.locator("[name=payment_method][value=third_party]")).to_be_checked()
    quantity = form.locator(f"[name=quantity_{service.pk}]")
    expect(quantity).to_have_value("1")
    expect(form.get_by_test_id("item-row")).to_have_count(1)
    expect(form.get_by_test_id("item-row")).to_contain_text(service.name)
    expect(form.get_by_test_id("total")).to_have_text(f"¥{service.standard_price}")

    fill_new_invoice(form, NEW_INVOICE)
    fill_details(form, DETAILS)
    form.locator("[name=agreement_accepted]").check()
    page.screenshot(path=artifacts_dir / "checkout-filled.png", full_page=True)
    form.get_by_test_id("submit-order").click()

    # Lands on My Orders' 等待付款 tab with the order in it.
    awaiting_url = base + reverse("orders:list") + "?tab=awaiting"
    expect(page).to_have_url(awaiting_url)
    assert Order.objects.count() == 1
    order = Order.objects.get()
    line = OrderLine.objects.get(order=order)
    assert re.fullmatch(r"BS-ZX\d{18}", order.number)
    assert re.fullmatch(r"\d{12}", line.serial)
    assert order.customer == customer
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.payment_method == Order.PaymentMethod.THIRD_PARTY
    assert (line.service_id, line.quantity) == (service.pk, 1)
    assert order.reminder_mobile == "+8613800138000"
    for name in DETAILS.keys() - {"reminder_mobile"}:
        assert getattr(order, name) == DETAILS[name], name
    profile = InvoiceProfile.objects.get(user=customer)
    assert profile.kind == InvoiceProfile.Kind.SPECIAL
    assert profile.taxpayer_id == "91310000134511148L"
    assert profile.contact_phone == "+8613900139000"
    for name in NEW_INVOICE.keys() - {"taxpayer_id", "contact_phone"}:
        assert getattr(profile, name) == NEW_INVOICE[name], name
    for order_field, profile_field in services.INVOICE_FIELDS.items():
        assert getattr(order, order_field) == getattr(profile, profile_field), order_field

    expect(page.locator("[data-tab=awaiting]")).to_have_attribute("aria-current", "page")
    block = order_block(page, order)
    expect(block).to_be_visible()
    expect(block).to_contain_text(order.number)
    expect(block).to_contain_text(line.serial)
    expect(block).to_contain_text(service.name)
    expect(block.locator("[data-status]")).to_have_attribute("data-status", Order.Status.AWAITING_PAYMENT)
    page.screenshot(path=artifacts_dir / "orders-awaiting.png", full_page=True)

    # 详情 → 修改信息: a new store name, saved; the detail page shows it and an edit event.
    detail_url = reverse("orders:detail", args=[order.number])
    edit_url = reverse("orders:edit", args=[order.number])
    block.locator(f".order-actions a[href='{detail_url}']").click()
    expect(page).to_have_url(base + detail_url)
    expect(page.get_by_test_id("order-lines")).to_contain_text(line.serial)
    expect(page.get_by_test_id("order-invoice")).to_contain_text(profile.taxpayer_id)
    expect(page.get_by_test_id("order-details")).to_contain_text(DETAILS["store_name"])
    page.locator(f".order-actions a[href='{edit_url}']").click()
    expect(page).to_have_url(base + edit_url)
    edit_form = page.locator("main form:has([name=store_name])")
    expect(edit_form.locator("[name=store_name]")).to_have_value(DETAILS["store_name"])
    edit_form.locator("[name=store_name]").fill(NEW_STORE_NAME)
    edit_form.locator("button[type=submit]").click()

    expect(page).to_have_url(base + detail_url)
    expect(page.get_by_test_id("order-details")).to_contain_text(NEW_STORE_NAME)
    edit_label, (store_name_label,) = labels("edit", "store_name")
    edit_rows = page.get_by_test_id("order-timeline").locator("tbody tr").filter(has_text=edit_label)
    expect(edit_rows).to_have_count(1)
    expect(edit_rows).to_contain_text(store_name_label)
    order.refresh_from_db()
    assert order.store_name == NEW_STORE_NAME
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert OrderEvent.objects.filter(order=order, action="edit").count() == 1
    page.screenshot(path=artifacts_dir / "order-detail.png", full_page=True)

    # Another order, cancelled from My Orders: 取消订单 → confirmation → confirm.
    other = submitted_order(customer=customer, invoice_profile=profile)
    cancel_url = reverse("orders:cancel", args=[other.number])
    page.goto(base + reverse("orders:list"))
    order_block(page, other).locator(f".order-actions a[href='{cancel_url}']").click()
    expect(page).to_have_url(base + cancel_url)
    expect(page.get_by_test_id("cancel-lines")).to_contain_text(other.lines.get().serial)
    page.locator(f"main form[action='{cancel_url}'] button[type=submit]").click()
    expect(page).to_have_url(base + other.get_absolute_url())
    expect(page.locator("main [data-status]").first).to_have_attribute("data-status", Order.Status.FAILED)
    other.refresh_from_db()
    assert other.status == Order.Status.FAILED

    # 交易失败 holds the cancelled order only; 等待付款 still holds the first.
    page.goto(base + reverse("orders:list"))
    page.locator("[data-tab=failed]").click()
    expect(page).to_have_url(base + reverse("orders:list") + "?tab=failed")
    expect(page.locator("[data-tab=failed] [data-testid=tab-count]")).to_have_text("1")
    expect(page.locator("[data-tab=awaiting] [data-testid=tab-count]")).to_have_text("1")
    expect(order_block(page, other)).to_be_visible()
    expect(order_block(page, other)).to_contain_text(other.lines.get().service_name)
    expect(order_block(page, order)).to_have_count(0)
    page.screenshot(path=artifacts_dir / "orders-failed.png", full_page=True)
    assert Order.objects.count() == 2


def test_checkout_errors_keep_what_was_typed(page: Page, live_server, shop, artifacts_dir):
    service, customer = shop
    base = live_server.url
    sign_in_to(page, base, customer, reverse("catalog:service-detail", args=[service.pk]))
    buy_now(page, base, service)

    form = page.get_by_test_id("checkout-form")
    fill_new_invoice(form, NEW_INVOICE)
    fill_details(form, {**DETAILS, "reminder_mobile": "123 4567"})
    expect(form.locator("[name=agreement_accepted]")).not_to_be_checked()
    form.get_by_test_id("submit-order").click()

    # Re-rendered at the same URL with the errors beside their fields.
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(page).to_have_url(base + reverse("orders:checkout", args=[service.pk]))
    form = page.get_by_test_id("checkout-form")
    for field in ("reminder_mobile", "agreement_accepted"):
        expect(form.locator(f"#id_{field}")).to_have_class(re.compile(r"\bis-invalid\b"))
        expect(form.locator(f"#div_id_{field} .invalid-feedback")).to_be_visible()
        expect(form.locator(f"#div_id_{field} .invalid-feedback")).not_to_be_empty()
    # Only those two fields are in error.
    expect(form.locator(".is-invalid")).to_have_count(2)

    # What was typed is still there, 添加一个新开票 included.
    expect(form.locator("#invoice-new")).to_be_checked()
    expect(form.locator("input[name='new_invoice-kind'][value=special]")).to_be_checked()
    for name, value in NEW_INVOICE.items():
        expect(form.locator(f"[name='new_invoice-{name}']")).to_have_value(value)
    for name, value in {**DETAILS, "reminder_mobile": "123 4567"}.items():
        expect(form.locator(f"[name={name}]")).to_have_value(value)
    expect(form.locator(f"[name=quantity_{service.pk}]")).to_have_value("1")
    expect(form.locator("[name=agreement_accepted]")).not_to_be_checked()
    page.screenshot(path=artifacts_dir / "checkout-errors.png", full_page=True)

    assert not Order.objects.exists()
    assert not InvoiceProfile.objects.exists()
