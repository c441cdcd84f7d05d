"""The rest of the user centre in a real browser (issue 7): a customer uploads the
remittance slip of a bank-transfer order, asks about a service and reads the staff
answer, and renews a completed order.

Elements are found by data-testid, data-* attributes, name and href, not by UI text,
which is being translated.
"""

import io
import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from PIL import Image
from playwright.sync_api import Page, expect

from accounts.models import Message
from accounts.roles import GROUP_REVIEWERS
from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from inquiries.models import Inquiry, InquiryMessage
from orders import services
from orders.models import Order, PaymentProof
from orders.tests.factories import DETAILS, RENEWED, agreement, order_in

from .pages import sign_in

# --- 上传回单 ----------------------------------------------------------------------------


@pytest.fixture
def bank_transfer_order(transactional_db):
    """An order paid by bank transfer, awaiting review, with no slip yet."""
    customer = UserFactory()
    return services.order_submit(
        customer=customer,
        items=[services.CheckoutItem(ServiceFactory(standard_price=Decimal("2000.00")).pk, 1)],
        invoice_profile=InvoiceProfileFactory(user=customer),
        details=DETAILS,
        payment_method=Order.PaymentMethod.BANK_TRANSFER,
        agreement=agreement(),
        accepted_ip="127.0.0.1",
        checkout_token=uuid.uuid4(),
    )


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_customer_uploads_a_remittance_slip(page: Page, live_server, bank_transfer_order, artifacts_dir):
    order = bank_transfer_order
    base = live_server.url
    upload_url = reverse("orders:payment-proof", args=[order.number])

    sign_in(page, reverse("accounts:login"), order.customer, order.get_absolute_url(), base)
    page.get_by_test_id("upload-proof-link").first.click()
    expect(page).to_have_url(base + upload_url)
    form = page.get_by_test_id("payment-proof-form")
    expect(page.get_by_test_id("payment-proofs-none")).to_have_count(1)

    # An HTML page behind a PNG header, named .png: refused by its bytes, nothing stored.
    fake = b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>"
    form.get_by_test_id("proof-file").set_input_files(
        files=[{"name": "slip.png", "mimeType": "image/png", "buffer": fake}]
    )
    form.locator("[type=submit]").click()
    expect(page).to_have_url(base + upload_url)
    expect(page.get_by_test_id("proof-file")).to_have_class(re.compile(r"\bis-invalid\b"))
    assert not PaymentProof.objects.filter(order=order).exists()
    page.screenshot(path=artifacts_dir / "proof-refused.png", full_page=True)

    # A real PNG: stored, listed on the order, downloadable by its owner.
    page.get_by_test_id("payment-proof-form").get_by_test_id("proof-file").set_input_files(
        files=[{"name": "回单.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    page.screenshot(path=artifacts_dir / "proof-chosen.png", full_page=True)
    page.get_by_test_id("payment-proof-form").locator("[type=submit]").click()
    expect(page).to_have_url(base + order.get_absolute_url())
    expect(page.locator(".messages .alert-success")).to_have_count(1)
    proof = PaymentProof.objects.get(order=order)
    row = page.locator(f"[data-testid=payment-proof][data-proof='{proof.pk}']")
    expect(row).to_have_count(1)
    page.screenshot(path=artifacts_dir / "proof-uploaded.png", full_page=True)

    href = row.get_by_test_id("payment-proof-download").get_attribute("href")
    assert href == reverse("orders:payment-proof-download", args=[order.number, proof.pk])
    response = page.request.get(base + href)
    assert response.status == 200
    assert response.headers["content-type"] == "image/png"
    assert response.body().startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(response.body())).size == (320, 200)


# --- 咨询管理 -----------------------------------------------------------------------------

QUESTION = "请问天猫对接服务是否支持多店铺共用一个产品密钥？"
ANSWER = "支持：同一产品密钥下可绑定多个店铺，每个店铺需单独订购对接服务。"


@pytest.fixture
def inquiry_people(transactional_db):
    """A customer, a service on sale, and a reviewer (订单审核) who may answer inquiries."""
    reviewer = UserFactory(staff=True, groups=[GROUP_REVIEWERS], real_name="审核甲")
    assert reviewer.has_perm("inquiries.answer_inquiry") and not reviewer.is_superuser
    return UserFactory(), ServiceFactory(), reviewer


def test_customer_asks_about_a_service_and_reads_the_staff_answer(
    page: Page, new_context, live_server, inquiry_people, artifacts_dir
):
    customer, service, reviewer = inquiry_people
    base = live_server.url

    # The customer asks from the service's page.
    sign_in(page, reverse("accounts:login"), customer, service.get_absolute_url(), base)
    page.get_by_test_id("ask-service").click()
    expect(page).to_have_url(base + reverse("inquiries:create") + f"?service={service.pk}")
    expect(page.get_by_test_id("inquiry-about").get_by_test_id("inquiry-service")).to_have_attribute(
        "href", service.get_absolute_url()
    )
    form = page.get_by_test_id("inquiry-form")
    expect(form.locator("[name=subject]")).not_to_have_value("")
    form.locator("[name=body]").fill(QUESTION)
    page.screenshot(path=artifacts_dir / "inquiry-ask.png", full_page=True)
    form.get_by_test_id("inquiry-submit").click()

    inquiry = Inquiry.objects.get(customer=customer)
    assert (inquiry.service, inquiry.status) == (service, Inquiry.Status.OPEN)
    expect(page).to_have_url(base + reverse("inquiries:detail", args=[inquiry.pk]))
    expect(page.locator("[data-testid=inquiry-message][data-from=customer]")).to_contain_text(QUESTION)
    expect(page.locator("[data-testid=inquiry-message][data-from=staff]")).to_have_count(0)

    # The reviewer finds it in the admin's queue and answers it.
    messages_before = Message.objects.filter(user=customer).count()
    admin = new_context(viewport={"width": 1600, "height": 900}).new_page()
    changelist = reverse("admin:inquiries_inquiry_changelist")
    sign_in(admin, reverse("admin:login"), reviewer, changelist, base)
    rows = admin.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("[data-status]")).to_have_attribute("data-status", Inquiry.Status.OPEN)
    admin.screenshot(path=artifacts_dir / "inquiry-admin-queue.png", full_page=True)
    change_url = reverse("admin:inquiries_inquiry_change", args=[inquiry.pk])
    rows.locator(f"a[href^='{change_url}']").click()
    expect(admin).to_have_url(re.compile(re.escape(base + change_url)))
    answer = admin.get_by_test_id("answer-form")
    answer.locator("[name=body]").fill(ANSWER)
    admin.screenshot(path=artifacts_dir / "inquiry-admin-answer.png", full_page=True)
    answer.get_by_test_id("answer-submit").click()
    expect(admin.locator(".messagelist .success")).to_have_count(1)
    admin.screenshot(path=artifacts_dir / "inquiry-admin-answered.png", full_page=True)

    inquiry.refresh_from_db()
    assert inquiry.status == Inquiry.Status.ANSWERED
    staff_message = InquiryMessage.objects.get(inquiry=inquiry, from_staff=True)
    assert (staff_message.author, staff_message.body) == (reviewer, ANSWER)
    assert Message.objects.filter(user=customer).count() == messages_before + 1  # 我的消息: answered

    # The customer sees the new answer flagged in 咨询管理 and reads it in the thread.
    page.goto(base + reverse("inquiries:list"))
    expect(page.get_by_test_id("inquiry-unread")).to_have_count(1)
    page.screenshot(path=artifacts_dir / "inquiry-customer-list.png", full_page=True)
    page.get_by_test_id("inquiry-list").get_by_test_id("inquiry-subject").click()
    expect(page).to_have_url(base + reverse("inquiries:detail", args=[inquiry.pk]))
    expect(page.locator("[data-testid=inquiry-message][data-from=staff]")).to_contain_text(ANSWER)
    page.screenshot(path=artifacts_dir / "inquiry-customer-answer.png", full_page=True)
    page.goto(base + reverse("inquiries:list"))
    expect(page.get_by_test_id("inquiry-unread")).to_have_count(0)


# --- 续订 -------------------------------------------------------------------------------


@pytest.fixture
def completed_order(transactional_db):
    """A customer's order in 交易成功 for two services (2 and 1 of them), made with the
    customer's second invoice profile, not the default one."""
    customer = UserFactory(real_name="张三", mobile="+8613700137000", email="zhang@example.com")
    InvoiceProfileFactory(user=customer, is_default=True, title="上海默认抬头有限公司")
    used = InvoiceProfileFactory(user=customer, special=True, title="上海续订贸易有限公司")
    kept = ServiceFactory(standard_price=Decimal("1000.00"))
    dropped = ServiceFactory(standard_price=Decimal("300.00"))
    order = order_in(
        Order.Status.SUCCESS,
        customer=customer,
        invoice_profile=used,
        services_and_quantities=[(kept, 2), (dropped, 1)],
        **RENEWED,
    )
    return customer, used, order, kept, dropped


def test_customer_renews_a_completed_order(page: Page, live_server, completed_order, artifacts_dir):
    customer, profile, order, kept, dropped = completed_order
    # Since the order: one service went off sale, the other costs more.
    dropped.active = False
    dropped.save()
    kept.standard_price = Decimal("1200.00")
    kept.save()
    base = live_server.url
    success_tab = reverse("orders:list") + "?tab=success"
    renew_url = reverse("orders:renew", args=[order.number])

    sign_in(page, reverse("accounts:login"), customer, success_tab, base)
    block = page.locator(f"tbody[data-order='{order.number}']")
    page.screenshot(path=artifacts_dir / "renew-success-tab.png", full_page=True)
    block.get_by_test_id("renew-link").click()

    # The checkout, prefilled from the order: the service still on sale at today's price.
    expect(page).to_have_url(base + renew_url)
    expect(page.locator(".messages .alert-warning")).to_contain_text(dropped.name)
    form = page.get_by_test_id("checkout-form")
    rows = form.get_by_test_id("item-row")
    expect(rows).to_have_count(1)
    expect(form.locator(f"[name=quantity_{kept.pk}]")).to_have_value("2")
    expect(form.locator(f"[name=quantity_{dropped.pk}]")).to_have_count(0)
    expect(form.get_by_test_id("total")).to_contain_text("2400.00")
    expect(form.locator(f"#invoice-{profile.pk}")).to_be_checked()
    for name, value in RENEWED.items():
        expect(form.locator(f"[name={name}]")).to_have_value("" if name == "remarks" else value)
    expect(form.locator("[name=agreement_accepted]")).not_to_be_checked()
    page.screenshot(path=artifacts_dir / "renew-checkout.png", full_page=True)

    form.locator("[name=agreement_accepted]").check()
    form.get_by_test_id("submit-order").click()

    # A new order awaiting review, with the renewed line and details.
    expect(page).to_have_url(base + reverse("orders:list") + "?tab=awaiting")
    renewed = Order.objects.filter(customer=customer).exclude(pk=order.pk).get()
    expect(page.locator(f"tbody[data-order='{renewed.number}']")).to_be_visible()
    assert renewed.status == Order.Status.AWAITING_PAYMENT
    assert list(renewed.lines.values_list("service_id", "quantity", "unit_price")) == [
        (kept.pk, 2, Decimal("1200.00"))
    ]
    assert (renewed.total, renewed.invoice_title, renewed.invoice_kind) == (Decimal("2400.00"), profile.title, "special")
    assert {name: getattr(renewed, name) for name in RENEWED} == {**RENEWED, "remarks": ""}
    order.refresh_from_db()
    assert order.status == Order.Status.SUCCESS
    page.screenshot(path=artifacts_dir / "renew-submitted.png", full_page=True)
