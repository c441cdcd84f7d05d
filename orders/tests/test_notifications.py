"""我的消息 and email for every customer-relevant event: each action of the table leaves
the customer a message, and an email with a plain-text body and an HTML alternative,
in Chinese first with the English alternative.

Titles are checked for the order's number only: new strings are translated later, while
the email's frame (greeting, order number label) is in both languages already.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Message
from accounts.tests.factories import UserFactory
from invoicing import services as invoicing_services
from invoicing.models import Invoice
from invoicing.tests.conftest import invoice_number
from orders import reminders, services
from orders.models import Order, OrderLine
from orders.tests.factories import order_in, submitted_order
from refunds import services as refund_services
from refunds.tests.factories import finance_user, refund_requested, refundable_order

pytestmark = pytest.mark.django_db
S = Order.Status


def customer():
    return UserFactory(email="buyer@example.com")


def submit():
    return submitted_order(customer=customer())


def approve():
    return services.order_approve(order=submitted_order(customer=customer()), actor=UserFactory(staff=True))


def reject():
    return services.order_reject(order=submitted_order(customer=customer()), actor=UserFactory(staff=True), reason="信息有误")


def close():
    return services.order_close(order=submitted_order(customer=customer()), actor=UserFactory(staff=True), reason="重复下单")


def expire():
    order = submitted_order(customer=customer())
    Order.objects.filter(pk=order.pk).update(submitted_at=timezone.now() - timedelta(days=365))
    services.orders_expire_due()
    return order


def confirm():
    order = order_in(S.IN_TRADE, customer=customer())
    return services.order_confirm_receipt(order=order, actor=order.customer)


def auto_confirm():
    order = order_in(S.IN_TRADE, customer=customer())
    Order.objects.filter(pk=order.pk).update(approved_at=timezone.now() - timedelta(days=365))
    services.orders_confirm_due()
    return order


def _issued():
    order = order_in(S.SUCCESS, customer=customer())
    invoicing_services.documents_generate(order_id=order.pk)
    today = timezone.localdate()
    invoice = Invoice.objects.get(order=order)
    return invoicing_services.invoice_issue(invoice=invoice, actor=finance_user(), number=invoice_number(today), issued_on=today)


def invoice_issued():
    return _issued().order


def invoice_mailed():
    invoice = _issued()
    mail.outbox.clear()
    Message.objects.all().delete()
    return invoicing_services.invoice_deliver(invoice=invoice, actor=finance_user(), tracking_number="SF1234567890").order


def _refund(then=None):
    order = refundable_order(customer=customer())
    refund = refund_requested(order)
    if then:
        mail.outbox.clear()
        Message.objects.all().delete()
        then(refund)
    return order


def refund_request():
    return _refund()


def refund_approve():
    return _refund(lambda refund: refund_services.refund_approve(refund=refund, actor=finance_user()))


def refund_withdraw():
    return _refund(lambda refund: refund_services.refund_withdraw(refund=refund, actor=refund.order.customer))


def refund_reject():
    return _refund(lambda refund: refund_services.refund_reject(refund=refund, actor=finance_user(), reason="超出退款期限"))


def refund_complete():
    def complete(refund):
        finance = finance_user()
        refund_services.refund_approve(refund=refund, actor=finance)
        mail.outbox.clear()
        Message.objects.all().delete()
        refund_services.refund_complete(refund=refund, actor=finance, reference="R-1", refunded_on=timezone.localdate())

    return _refund(complete)


def reminder():
    order = order_in(S.SUCCESS, customer=customer(), reminder_email="buyer@example.com")
    OrderLine.objects.filter(order=order).update(service_end=timezone.localdate() + timedelta(days=7))
    mail.outbox.clear()
    Message.objects.all().delete()
    reminders.reminders_send()
    return order


EVENTS = [
    submit,
    approve,
    reject,
    close,
    expire,
    confirm,
    auto_confirm,
    invoice_issued,
    invoice_mailed,
    refund_request,
    refund_approve,
    refund_withdraw,
    refund_reject,
    refund_complete,
    reminder,
]


@pytest.mark.parametrize("event", EVENTS, ids=[event.__name__ for event in EVENTS])
def test_event_leaves_a_message_and_a_bilingual_text_and_html_email(event, settings, django_capture_on_commit_callbacks):
    settings.REMINDER_DAYS = [7]
    with django_capture_on_commit_callbacks(execute=True):
        order = event()
    order.refresh_from_db()

    message = Message.objects.filter(user=order.customer).order_by("-pk").first()
    assert message is not None and order.number in message.title
    assert message.link == order.get_absolute_url()

    emails = [email for email in mail.outbox if order.number in email.subject]
    assert emails, [email.subject for email in mail.outbox]
    email = emails[-1]
    assert "buyer@example.com" in email.to
    assert " / " in email.subject  # Chinese / English
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    for part in (email.body, html):
        assert "主订单号" in part and "Main order number" in part
        assert part.index("主订单号") < part.index("Main order number")
        assert order.number in part
