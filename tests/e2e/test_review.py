"""Order review in a real browser (issue 4, guide step 4), two people at once: a
reviewer (staff in 订单审核) in the admin and the customer in My Orders.

The reviewer finds the order by its number, rejects it (first without a reason, which
is refused), the customer sees the reason under 等待付款, modifies the order and so
resubmits it; the reviewer approves it with a chosen service start, and the customer
finds it under 交易中 with its service period, and a message for each decision.

Elements are found by data-testid, name, data-* attributes and href, not by UI text,
which is being translated. The message titles asserted are looked up through the same
translation catalogue the live server uses.
"""

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Page, expect

from accounts.models import Message
from accounts.roles import GROUP_REVIEWERS
from accounts.tests.factories import UserFactory
from catalog.tests.factories import ServiceFactory
from orders.models import Order
from orders.tests.factories import first_of_next_month, month_end_before, submitted_order

from .pages import order_block, sign_in

REASON = "店铺名称与平台不一致"
NEW_STORE_NAME = "云测京东旗舰店"
SERVICE_START = first_of_next_month()  # after the order date and within a year, whenever the test runs
SERVICE_END = month_end_before(SERVICE_START, 12)


@pytest.fixture
def people(transactional_db):
    """The reviewer (in the migrations' 订单审核: UserFactory restores it when an earlier
    transactional test flushed it), the customer, the customer's order awaiting review
    (a 12-month service) and another customer's order, also awaiting review."""
    reviewer = UserFactory(staff=True, groups=[GROUP_REVIEWERS], real_name="审核员甲")
    assert reviewer.has_perm("orders.review_order") and not reviewer.is_superuser
    customer = UserFactory()
    order = submitted_order(customer=customer, services_and_quantities=[(ServiceFactory(period_months=12), 2)])
    other = submitted_order()
    return reviewer, customer, order, other


def message_titles(order) -> tuple[str, str]:
    """The live server's titles of the rejection and approval messages."""
    with translation.override(settings.LANGUAGE_CODE):
        return (
            gettext("Order %(number)s did not pass review") % {"number": order.number},
            gettext("Order %(number)s approved") % {"number": order.number},
        )


def events(order) -> list[tuple[str, int | None]]:
    return list(order.events.order_by("at", "id").values_list("action", "actor_id"))


def test_reviewer_rejects_customer_resubmits_reviewer_approves(
    page: Page, new_context, live_server, people, artifacts_dir
):
    reviewer, customer, order, other = people
    base = live_server.url
    admin = new_context().new_page()  # the reviewer's own browser
    customer_page = page
    changelist = reverse("admin:orders_order_changelist")
    change_url = reverse("admin:orders_order_change", args=[order.pk])
    reject_url = reverse("admin:orders_order_reject", args=[order.pk])
    approve_url = reverse("admin:orders_order_approve", args=[order.pk])
    awaiting_url = reverse("orders:list") + "?tab=awaiting"
    in_trade_url = reverse("orders:list") + "?tab=in_trade"
    notices_before = Message.objects.filter(user=customer).count()  # 订单已提交

    # The reviewer signs in to the admin; the index's review queue holds both orders.
    admin_index = reverse("admin:index")
    sign_in(admin, reverse("admin:login"), reviewer, admin_index, base)
    expect(admin.locator("[data-queue=review] td.count")).to_have_text("2")

    # Orders → search by the main order number → the one order → its change page.
    admin.locator(f"#content-main a[href='{changelist}']").first.click()
    expect(admin).to_have_url(base + changelist)
    expect(admin.locator("#result_list tbody tr")).to_have_count(2)
    admin.locator("#changelist-search [name=q]").fill(order.number)
    admin.locator("#changelist-search [type=submit]").click()
    rows = admin.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("[data-status]")).to_have_attribute("data-status", Order.Status.AWAITING_PAYMENT)
    rows.locator(f"a[href^='{change_url}']").click()
    expect(admin).to_have_url(re.compile(re.escape(base + change_url)))

    # 驳回 without a reason: refused, beside the field; nothing changes.
    admin.locator(".object-tools a[data-move=reject]").click()
    expect(admin).to_have_url(base + reject_url)
    reject_form = admin.locator("#content-main form:has([name=reason])")
    reject_form.locator("[type=submit].default").click()
    expect(admin).to_have_url(base + reject_url)
    expect(admin.locator(".field-reason.errors .errorlist")).not_to_be_empty()
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.rejection_reason == ""
    assert events(order) == [("submit", customer.pk)]
    assert Message.objects.filter(user=customer).count() == notices_before

    # With the reason: rejected, the reviewer is the actor.
    admin.screenshot(path=artifacts_dir / "admin-reject.png", full_page=True)
    reject_form.locator("[name=reason]").fill(REASON)
    reject_form.locator("[type=submit].default").click()
    expect(admin).to_have_url(base + change_url)
    expect(admin.locator(".messagelist .success")).to_have_count(1)
    expect(admin.locator(".field-status_label [data-status]")).to_have_attribute("data-status", Order.Status.REJECTED)
    order.refresh_from_db()
    assert order.status == Order.Status.REJECTED
    assert order.rejection_reason == REASON
    assert events(order) == [("submit", customer.pk), ("reject", reviewer.pk)]
    assert order.events.get(action="reject").note == REASON
    other.refresh_from_db()
    assert other.status == Order.Status.AWAITING_PAYMENT

    # The customer finds it under 等待付款 with the reason, and modifies it.
    sign_in(customer_page, reverse("accounts:login"), customer, awaiting_url, base)
    expect(customer_page.get_by_test_id("user-menu")).to_be_visible()
    block = order_block(customer_page, order)
    expect(block.locator("[data-status]")).to_have_attribute("data-status", Order.Status.REJECTED)
    expect(block.get_by_test_id("rejection-reason")).to_contain_text(REASON)
    customer_page.screenshot(path=artifacts_dir / "customer-rejected.png", full_page=True)

    edit_url = reverse("orders:edit", args=[order.number])
    block.locator(f".order-actions a[href='{edit_url}']").click()
    expect(customer_page).to_have_url(base + edit_url)
    expect(customer_page.get_by_test_id("resubmit-note")).to_contain_text(REASON)
    edit_form = customer_page.locator("main form:has([name=store_name])")
    edit_form.locator("[name=store_name]").fill(NEW_STORE_NAME)
    edit_form.locator("button[type=submit]").click()
    expect(customer_page).to_have_url(base + order.get_absolute_url())
    expect(customer_page.get_by_test_id("order-details")).to_contain_text(NEW_STORE_NAME)
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.store_name == NEW_STORE_NAME
    assert events(order)[2:] == [("edit", customer.pk), ("resubmit", customer.pk)]

    # The reviewer reloads the order: awaiting review again, so 审核通过 is offered.
    admin.reload()
    expect(admin.locator(".field-status_label [data-status]")).to_have_attribute(
        "data-status", Order.Status.AWAITING_PAYMENT
    )
    admin.locator(".object-tools a[data-move=approve]").click()
    expect(admin).to_have_url(base + approve_url)
    approve_form = admin.locator("#content-main form:has([name=paid_amount])")
    paid = approve_form.locator("[name=paid_amount]")
    assert Decimal(paid.input_value()) == order.total  # the default: the order total
    approve_form.locator("[name=service_start]").fill(SERVICE_START.isoformat())
    admin.screenshot(path=artifacts_dir / "admin-approve.png", full_page=True)
    approve_form.locator("[type=submit].default").click()
    expect(admin).to_have_url(base + change_url)
    expect(admin.locator(".messagelist .success")).to_have_count(1)
    expect(admin.locator(".field-status_label [data-status]")).to_have_attribute("data-status", Order.Status.IN_TRADE)
    order.refresh_from_db()
    assert order.status == Order.Status.IN_TRADE
    assert order.paid_amount == order.total
    assert events(order)[-1] == ("approve", reviewer.pk)
    for line in order.lines.all():
        assert (line.service_start, line.service_end) == (SERVICE_START, SERVICE_END), line.serial

    # The customer finds it under 交易中 with the service period, and both decisions
    # in 我的消息.
    customer_page.goto(base + reverse("orders:list"))
    customer_page.locator("[data-tab=in_trade]").click()
    expect(customer_page).to_have_url(base + in_trade_url)
    expect(customer_page.locator("[data-tab=in_trade] [data-testid=tab-count]")).to_have_text("1")
    expect(customer_page.locator("[data-tab=awaiting] [data-testid=tab-count]")).to_have_text("0")
    block = order_block(customer_page, order)
    expect(block.locator("[data-status]")).to_have_attribute("data-status", Order.Status.IN_TRADE)
    line_row = block.locator("tr", has_text=order.lines.get().serial)
    expect(line_row).to_contain_text(SERVICE_START.isoformat())
    expect(line_row).to_contain_text(SERVICE_END.isoformat())
    expect(order_block(customer_page, other)).to_have_count(0)
    customer_page.screenshot(path=artifacts_dir / "customer-in-trade.png", full_page=True)

    customer_page.goto(base + reverse("accounts:messages"))
    rejected_title, approved_title = message_titles(order)
    notices = customer_page.get_by_test_id("message")
    expect(notices.filter(has_text=rejected_title)).to_have_count(1)
    expect(notices.filter(has_text=rejected_title)).to_contain_text(REASON)
    expect(notices.filter(has_text=approved_title)).to_have_count(1)
