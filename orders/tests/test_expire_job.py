"""The system closes orders left awaiting review or rejected for ORDER_EXPIRE_DAYS."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts.tests.factories import UserFactory
from orders import services, tasks
from orders.models import Order, OrderEvent
from orders.tests.factories import order_in, submitted_order

pytestmark = pytest.mark.django_db
S = Order.Status


@pytest.fixture(autouse=True)
def expire_days(settings):
    settings.ORDER_EXPIRE_DAYS = 30


def ago(days):
    return timezone.now() - timedelta(days=days)


def submitted_days_ago(days, **kwargs):
    order = submitted_order(**kwargs)
    Order.objects.filter(pk=order.pk).update(submitted_at=ago(days))
    return order


def rejected_days_ago(days, *, submitted=40):
    order = order_in(S.REJECTED)
    Order.objects.filter(pk=order.pk).update(submitted_at=ago(submitted), rejected_at=ago(days))
    return order


def test_expires_only_orders_awaiting_review_or_rejected_past_the_limit():
    awaiting_old = submitted_days_ago(31)
    rejected_old = rejected_days_ago(31)
    awaiting_fresh = submitted_days_ago(29)
    rejected_fresh = rejected_days_ago(29, submitted=60)  # the rejection counts, not the submission
    in_trade = order_in(S.IN_TRADE)
    Order.objects.filter(pk=in_trade.pk).update(submitted_at=ago(90))

    expired = services.orders_expire_due()

    assert sorted(expired) == sorted([awaiting_old.number, rejected_old.number])
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {
        awaiting_old.pk: S.FAILED,
        rejected_old.pk: S.FAILED,
        awaiting_fresh.pk: S.AWAITING_PAYMENT,
        rejected_fresh.pk: S.REJECTED,
        in_trade.pk: S.IN_TRADE,
    }
    for order, before in ((awaiting_old, S.AWAITING_PAYMENT), (rejected_old, S.REJECTED)):
        event = order.events.get(action="expire")
        assert (event.actor, event.actor_kind, event.from_status, event.to_status) == (
            None,
            OrderEvent.ActorKind.SYSTEM,
            before,
            S.FAILED,
        )
        order.refresh_from_db()
        assert order.failed_at is not None


def test_a_resubmitted_order_counts_from_its_resubmission():
    order = rejected_days_ago(35, submitted=50)
    services.order_edit(order=order, actor=order.customer, details={"remarks": "已修改"})
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT
    assert services.orders_expire_due() == []
    OrderEvent.objects.filter(order=order, action="resubmit").update(at=ago(31))
    assert services.orders_expire_due() == [order.number]


def test_the_customer_gets_a_message_and_an_email(django_capture_on_commit_callbacks):
    order = submitted_days_ago(31, customer=UserFactory(email="buyer@example.com"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.orders_expire_due()
    message = order.customer.messages.order_by("-pk").first()
    assert order.number in message.title and message.link == order.get_absolute_url()
    [email] = mail.outbox
    assert email.to == ["buyer@example.com"] and order.number in email.subject
    assert email.alternatives[0][1] == "text/html"


def test_a_second_run_changes_nothing():
    order = submitted_days_ago(45)
    services.orders_expire_due()
    assert services.orders_expire_due() == []
    assert order.events.filter(action="expire").count() == 1


def test_the_limit_is_a_setting(settings):
    order = submitted_days_ago(3)
    assert services.orders_expire_due() == []
    settings.ORDER_EXPIRE_DAYS = 2
    assert services.orders_expire_due() == [order.number]


def test_task_and_management_command():
    submitted_days_ago(31)
    assert tasks.orders_expire_due_task.delay().get() == 1
    submitted_days_ago(32)
    out = StringIO()
    call_command("expire_due_orders", stdout=out)
    assert out.getvalue().strip() == "1 orders expired"
