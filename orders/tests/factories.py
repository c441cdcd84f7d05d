"""Orders for tests, made through the real services so they are what customers make."""

import uuid
from datetime import date, timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from orders import services
from orders.models import Agreement, Order
from orders.selectors import agreement_current

DETAILS = {
    "contract_customer_name": "上海云测贸易有限公司",
    "marketplace_order_no": "JD-20261126-0001",
    "store_name": "云测旗舰店",
    "seller_nick": "yunce_shop",
    "service_engineer": "李工",
    "reminder_name": "王小明",
    "reminder_mobile": "+8613800138000",
    "reminder_email": "wang@example.com",
    "reminder_cc_email": "",
    "remarks": "",
}

# The details of an order renewed (续订) with every field changed from DETAILS.
RENEWED = {
    "contract_customer_name": "上海续订贸易有限公司",
    "marketplace_order_no": "TM-20261126-0042",
    "store_name": "续订旗舰店",
    "seller_nick": "renew_shop",
    "service_engineer": "陈工",
    "reminder_name": "刘小红",
    "reminder_mobile": "+8613900139000",
    "reminder_email": "liu@example.com",
    "reminder_cc_email": "boss@example.com",
    "remarks": "请尽快开票",
}


class AgreementFactory(DjangoModelFactory):
    version = factory.Sequence(lambda n: f"2026.{n}")
    title = "店铺订购协议"
    body = "第一条 本协议由客户与销售方订立。\n第二条 订购完成后可申请开票，无需实际支付。"
    published_at = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(days=1))

    class Meta:
        model = Agreement


def agreement():
    return agreement_current() or AgreementFactory()


def submitted_order(*, customer=None, services_and_quantities=None, invoice_profile=None, **details) -> Order:
    """An order as checkout makes it: awaiting review."""
    customer = customer or UserFactory()
    items = services_and_quantities or [(ServiceFactory(), 1)]
    return services.order_submit(
        customer=customer,
        items=[services.CheckoutItem(service.pk, quantity) for service, quantity in items],
        invoice_profile=invoice_profile or InvoiceProfileFactory(user=customer),
        details={**DETAILS, **details},
        payment_method=Order.PaymentMethod.THIRD_PARTY,
        agreement=agreement(),
        accepted_ip="127.0.0.1",
        checkout_token=uuid.uuid4(),
    )


def order_in(status: str, **kwargs) -> Order:
    """An order brought to `status` through the services, as staff and customer would."""
    order = submitted_order(**kwargs)
    staff = UserFactory(staff=True)
    S = Order.Status
    if status == S.AWAITING_PAYMENT:
        return order
    if status == S.REJECTED:
        return services.order_reject(order=order, actor=staff, reason="店铺名称与平台不一致")
    if status == S.FAILED:
        return services.order_cancel(order=order, actor=order.customer)
    order = services.order_approve(order=order, actor=staff)
    if status == S.IN_TRADE:
        return order
    if status == S.SUCCESS:
        return services.order_confirm_receipt(order=order, actor=order.customer)
    raise ValueError(f"no path to {status} yet")


def first_of_next_month():
    """A service start that is always after the order date and within a year."""
    today = timezone.localdate()
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


def month_end_before(start, months):
    """The day before `start` moved on by `months` months, for a start on the 1st."""
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, 1) - timedelta(days=1)

