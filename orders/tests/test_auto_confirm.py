"""The system confirms receipt of orders left in trade for ORDER_AUTO_CONFIRM_DAYS."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from invoicing.models import Contract, DocumentJob, Invoice
from orders import services
from orders.models import Order, OrderEvent
from orders.tests.factories import order_in, submitted_order

pytestmark = pytest.mark.django_db
S = Order.Status


def approved_days_ago(days, **kwargs):
    order = order_in(S.IN_TRADE, **kwargs)
    Order.objects.filter(pk=order.pk).update(approved_at=timezone.now() - timedelta(days=days))
    return order


def test_confirms_only_orders_in_trade_past_the_limit(settings):
    settings.ORDER_AUTO_CONFIRM_DAYS = 15
    due = approved_days_ago(16)
    fresh = approved_days_ago(14)
    waiting = submitted_order()
    done = order_in(S.SUCCESS)

    confirmed = services.orders_confirm_due()

    assert confirmed == [due.number]
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {due.pk: S.SUCCESS, fresh.pk: S.IN_TRADE, waiting.pk: S.AWAITING_PAYMENT, done.pk: S.SUCCESS}
    event = due.events.get(action="confirm_receipt")
    assert (event.actor, event.actor_kind) == (None, OrderEvent.ActorKind.SYSTEM)
    assert DocumentJob.objects.filter(order=due).exists()  # its documents follow


def test_a_second_run_changes_nothing(settings):
    settings.ORDER_AUTO_CONFIRM_DAYS = 15
    due = approved_days_ago(30)

    services.orders_confirm_due()
    assert services.orders_confirm_due() == []
    assert due.events.filter(action="confirm_receipt").count() == 1


def test_the_limit_is_a_setting(settings):
    order = approved_days_ago(3)
    settings.ORDER_AUTO_CONFIRM_DAYS = 2
    assert services.orders_confirm_due() == [order.number]


def test_documents_are_made_after_the_commit(settings, django_capture_on_commit_callbacks):
    settings.ORDER_AUTO_CONFIRM_DAYS = 15
    due = approved_days_ago(20)

    with django_capture_on_commit_callbacks(execute=True):
        services.orders_confirm_due()

    assert Invoice.objects.filter(order=due).count() == 1
    assert Contract.objects.filter(order=due).count() == 1


def test_management_command(settings):
    settings.ORDER_AUTO_CONFIRM_DAYS = 15
    approved_days_ago(16)
    out = StringIO()
    call_command("confirm_due_orders", stdout=out)
    assert out.getvalue().strip() == "1 orders confirmed"
