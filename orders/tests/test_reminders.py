"""到期提醒: the daily job that tells an order's reminder recipients a service is ending.

The rule under test: a line gets the d-day reminder on the day its service ends in exactly
d days (d in REMINDER_DAYS); a day the job missed is not caught up later.
"""

import json
import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Message
from orders import reminders, tasks
from orders.models import Order, OrderEvent, OrderLine, ReminderSent
from orders.tests.factories import order_in
from orders.tests.test_sms import gateway
from tests.support.helpers import run_concurrently

pytestmark = pytest.mark.django_db
S = Order.Status
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.REMINDER_DAYS = [30, 7, 1]
    settings.SMS_BACKEND = "orders.sms.LogBackend"


def ending_in(days, *, status=S.IN_TRADE, today=None, **details):
    """An order whose single line's service ends `days` days after `today`."""
    today = today or timezone.localdate()
    order = order_in(status, **details)
    OrderLine.objects.filter(order=order).update(service_end=today + timedelta(days=days))
    return order


def emails_to(address):
    return [message for message in mail.outbox if address in message.to]


def run(django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return reminders.reminders_send(**kwargs)


def test_lines_at_31_30_8_7_2_1_0_days_get_the_30_7_and_1_day_reminders_once_across_two_runs(
    django_capture_on_commit_callbacks, caplog
):
    orders = {days: ending_in(days, reminder_email=f"r{days}@example.com") for days in (31, 30, 8, 7, 2, 1, 0)}
    mail.outbox.clear()
    messages_before = Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0  # the last pk, not a count

    with caplog.at_level(logging.INFO, logger="orders.sms"):
        sent = run(django_capture_on_commit_callbacks)
        again = run(django_capture_on_commit_callbacks)

    assert sorted(days for _serial, days in sent) == [1, 7, 30]
    assert again == []
    for days, order in orders.items():
        expected = 1 if days in (30, 7, 1) else 0
        assert ReminderSent.objects.filter(line__order=order).count() == expected, days
        assert len(emails_to(f"r{days}@example.com")) == expected, days
        assert order.customer.messages.filter(pk__gt=messages_before).count() == expected
        assert order.events.filter(action="reminder").count() == expected
    assert caplog.text.count("SMS to +8613800138000") == 3
    record = ReminderSent.objects.get(line__order=orders[7])
    assert (record.days, record.service_end, record.channels) == (7, timezone.localdate() + timedelta(days=7), "message,email,sms")
    event = orders[7].events.get(action="reminder")
    assert (event.actor_kind, event.from_status, event.to_status) == (OrderEvent.ActorKind.SYSTEM, S.IN_TRADE, S.IN_TRADE)


def test_a_missed_day_is_not_caught_up_with_a_stale_threshold(django_capture_on_commit_callbacks):
    today = timezone.localdate()
    order = ending_in(30, today=today)
    # The job did not run on the 30-day day; the next day the line is at 29 days.
    assert run(django_capture_on_commit_callbacks, today=today + timedelta(days=1)) == []
    assert not ReminderSent.objects.exists()
    # ...and it gets the 7-day reminder when that day comes.
    sent = run(django_capture_on_commit_callbacks, today=today + timedelta(days=23))
    assert [days for _serial, days in sent] == [7]
    assert ReminderSent.objects.get().line.order == order


def test_only_orders_in_trade_or_completed_are_reminded(django_capture_on_commit_callbacks):
    in_trade, success = ending_in(7), ending_in(7, status=S.SUCCESS)
    for status in (S.AWAITING_PAYMENT, S.REJECTED, S.FAILED):
        ending_in(7, status=status)
    sent = run(django_capture_on_commit_callbacks)
    assert {serial for serial, _days in sent} == {
        in_trade.lines.get().serial,
        success.lines.get().serial,
    }


def test_a_new_service_end_gets_its_own_reminders(django_capture_on_commit_callbacks):
    """The record is per line, threshold and end date: a service extended to a later end
    is reminded again when the new end comes near."""
    today = timezone.localdate()
    order = ending_in(7, today=today)
    run(django_capture_on_commit_callbacks, today=today)
    OrderLine.objects.filter(order=order).update(service_end=today + timedelta(days=60))
    assert run(django_capture_on_commit_callbacks, today=today + timedelta(days=53)) != []
    assert ReminderSent.objects.filter(line__order=order).count() == 2


def test_an_error_on_the_second_line_leaves_it_for_the_rerun_which_sends_only_it(
    django_capture_on_commit_callbacks, monkeypatch
):
    orders = [ending_in(7, reminder_email=f"r{i}@example.com") for i in range(3)]
    mail.outbox.clear()
    real_send, calls = account_services.message_send, []

    def message_send_failing_on_second(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise RuntimeError("database hiccup")
        return real_send(**kwargs)

    monkeypatch.setattr(account_services, "message_send", message_send_failing_on_second)
    first = run(django_capture_on_commit_callbacks)
    monkeypatch.setattr(account_services, "message_send", real_send)
    second = run(django_capture_on_commit_callbacks)

    serials = [order.lines.get().serial for order in orders]
    assert [serial for serial, _d in first] == [serials[0], serials[2]]
    assert [serial for serial, _d in second] == [serials[1]]
    for i, order in enumerate(orders):
        assert len(emails_to(f"r{i}@example.com")) == 1
        assert ReminderSent.objects.filter(line__order=order).count() == 1
        assert order.events.filter(action="reminder").count() == 1


class WorkerKilled(BaseException):
    """Stands for the worker being killed: not an Exception, so the job does not catch it."""


@pytest.mark.django_db(transaction=True)
def test_a_crash_halfway_then_a_rerun_sends_only_the_rest(monkeypatch, caplog):
    orders = [ending_in(1, reminder_email=f"r{i}@example.com", reminder_mobile=f"+86139001390{i:02d}") for i in range(4)]
    mail.outbox.clear()
    messages_before = Message.objects.order_by("-pk").values_list("pk", flat=True).first()
    real_send, calls = account_services.message_send, []

    def message_send_killed_on_third(**kwargs):
        calls.append(kwargs)
        if len(calls) == 3:
            raise WorkerKilled
        return real_send(**kwargs)

    monkeypatch.setattr(account_services, "message_send", message_send_killed_on_third)
    with caplog.at_level(logging.INFO, logger="orders.sms"), pytest.raises(WorkerKilled):
        reminders.reminders_send()
    sent_before = {record.line.order_id for record in ReminderSent.objects.select_related("line")}
    assert sent_before == {orders[0].pk, orders[1].pk}

    monkeypatch.setattr(account_services, "message_send", real_send)
    with caplog.at_level(logging.INFO, logger="orders.sms"):
        rerun = tasks.reminders_send_task.delay().get()

    assert rerun == 2
    for i, order in enumerate(orders):
        assert len(emails_to(f"r{i}@example.com")) == 1, i
        assert caplog.text.count(f"SMS to +86139001390{i:02d}") == 1, i
        assert order.customer.messages.filter(pk__gt=messages_before).count() == 1, i
        assert order.events.filter(action="reminder").count() == 1, i


def test_email_goes_to_the_recipient_with_the_second_in_copy_in_both_languages(django_capture_on_commit_callbacks):
    order = ending_in(30, status=S.SUCCESS, reminder_email="main@example.com", reminder_cc_email="second@example.com")
    mail.outbox.clear()
    run(django_capture_on_commit_callbacks)

    [email] = mail.outbox
    assert (email.to, email.cc) == (["main@example.com"], ["second@example.com"])
    assert order.number in email.subject and " / " in email.subject
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    line = order.lines.get()
    renew = f"/account/orders/{order.number}/renew/"
    assert reverse("orders:renew", args=[order.number]) == renew
    for part in (email.body, html):
        assert "王小明，您好" in part and "Hello 王小明," in part  # Chinese first, English alternative
        assert "主订单号" in part and "Main order number" in part
        assert line.serial in part and line.service_name in part
        assert f"/account/orders/{order.number}/" in part and renew in part
    assert email.body.index("主订单号") < email.body.index("Main order number")


def test_without_a_second_recipient_there_is_no_copy_and_in_trade_orders_link_the_order_only(
    django_capture_on_commit_callbacks,
):
    order = ending_in(1, reminder_cc_email="")
    mail.outbox.clear()
    run(django_capture_on_commit_callbacks)
    [email] = mail.outbox
    assert email.cc == []
    assert f"/account/orders/{order.number}/" in email.body and "/renew/" not in email.body


def test_sms_goes_through_the_http_gateway(settings, django_capture_on_commit_callbacks):
    order = ending_in(7, status=S.SUCCESS, reminder_mobile="13900139000")
    with gateway() as server:
        settings.SMS_BACKEND = "orders.sms.HttpGatewayBackend"
        settings.SMS_GATEWAY_URL, settings.SMS_GATEWAY_KEY = server.url, "secret-key"
        run(django_capture_on_commit_callbacks)

    [request] = server.received
    assert request["headers"]["Authorization"] == "Bearer secret-key"
    body = json.loads(request["body"])
    assert body["mobile"] == "+8613900139000"
    assert order.number in body["text"] and f"/account/orders/{order.number}/renew/" in body["text"]


def test_send_reminders_command(django_capture_on_commit_callbacks):
    today = timezone.localdate()
    ending_in(7, today=today)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_reminders", stdout=out)
        call_command("send_reminders", stdout=out)
        call_command("send_reminders", "--today", (today + timedelta(days=6)).isoformat(), stdout=out)
    assert out.getvalue().splitlines() == ["1 reminders sent", "0 reminders sent", "1 reminders sent"]
    assert sorted(ReminderSent.objects.values_list("days", flat=True)) == [1, 7]


@pytest.mark.parametrize("days, flagged", [(0, True), (10, True), (30, True), (31, False), (-1, False)])
def test_my_orders_and_the_order_page_flag_lines_ending_within_30_days(client, days, flagged):
    order = ending_in(days)
    client.force_login(order.customer, backend=MODEL_BACKEND)
    for url in (reverse("orders:list"), order.get_absolute_url()):
        page = client.get(url).content.decode()
        assert ('data-testid="ending-soon"' in page) is flagged, url


def test_lines_of_closed_orders_are_not_flagged(client):
    order = ending_in(5, status=S.FAILED)
    client.force_login(order.customer, backend=MODEL_BACKEND)
    assert 'data-testid="ending-soon"' not in client.get(order.get_absolute_url()).content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_send_each_reminder_once():
    orders = [ending_in(7, reminder_email=f"r{i}@example.com") for i in range(3)]
    mail.outbox.clear()
    outcomes = run_concurrently(lambda _i: reminders.reminders_send(), 4)

    assert not [outcome for outcome in outcomes if isinstance(outcome, BaseException)], outcomes
    assert sum(len(outcome) for outcome in outcomes) == 3
    for i, order in enumerate(orders):
        assert ReminderSent.objects.filter(line__order=order).count() == 1
        assert order.events.filter(action="reminder").count() == 1
        assert len(emails_to(f"r{i}@example.com")) == 1
