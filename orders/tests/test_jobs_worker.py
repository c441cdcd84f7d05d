"""The redis tier of the scheduled jobs: the tasks beat schedules (expiry reminders,
expire due orders) run on a real `celery -A mall worker` process, on this test's
PostgreSQL database (transaction=True, so the worker sees what the test commits).

The worker consumes the default queue `celery` of the Redis database in REDIS_URL, so
the email and SMS tasks the jobs enqueue run on it too; the SMS goes to a real HTTP
server of this test on 127.0.0.1 through the HTTP gateway backend. Run with a Redis
database of its own (e.g. REDIS_URL=redis://127.0.0.1:6379/13): the queue is emptied
before and after.
"""

import json
import os
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from mall.celery import app as celery_app
from orders import tasks
from orders.models import Order, OrderEvent, OrderLine, ReminderSent
from orders.tests.factories import order_in, submitted_order
from orders.tests.test_sms import gateway
from tests.support.helpers import (
    celery_publishing_to,
    celery_worker_start,
    database_url,
    process_stop,
    queue_declared,
    redis_queue_delete,
    wait_for,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

QUEUE = "celery"  # the default queue: the jobs' own email and SMS tasks land there too
S = Order.Status


def test_beat_scheduled_jobs_run_on_a_real_worker(tmp_path):
    assert {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()} >= {
        "orders.tasks.reminders_send_task",
        "orders.tasks.orders_expire_due_task",
    }
    broker_url = os.environ["REDIS_URL"]
    reminded = order_in(S.SUCCESS, reminder_mobile="+8613900139000")
    OrderLine.objects.filter(order=reminded).update(service_end=timezone.localdate() + timedelta(days=7))
    stale = submitted_order()
    Order.objects.filter(pk=stale.pk).update(submitted_at=timezone.now() - timedelta(days=60))

    redis_queue_delete(broker_url, QUEUE)
    log_path = tmp_path / "worker.log"
    with gateway() as sms_gateway:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mall.settings.local",
            "DJANGO_DEBUG": "False",
            "DATABASE_URL": database_url(django_settings.DATABASES["default"]),
            "REDIS_URL": broker_url,
            "EMAIL_URL": "consolemail://",
            "ORDER_EXPIRE_DAYS": "30",
            "REMINDER_DAYS": "30,7,1",
            "SMS_BACKEND": "orders.sms.HttpGatewayBackend",
            "SMS_GATEWAY_URL": sms_gateway.url,
            "SMS_GATEWAY_KEY": "worker-key",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("CELERY_BROKER_URL", None)
        process = celery_worker_start(queue=QUEUE, env=env, log_path=log_path)
        worker = {"logs": lambda: f"worker log:\n{log_path.read_text(errors='replace')}", "processes": [process]}
        try:
            wait_for(lambda: queue_declared(broker_url, QUEUE), 20, "worker on the queue", **worker)
            with celery_publishing_to(celery_app, broker_url, QUEUE):
                tasks.reminders_send_task.delay()
                tasks.orders_expire_due_task.delay()
            wait_for(lambda: sms_gateway.received, 30, "SMS at the gateway", **worker)
            wait_for(lambda: Order.objects.get(pk=stale.pk).status == S.FAILED, 30, "expired order", **worker)
        finally:
            process_stop(process)
            redis_queue_delete(broker_url, QUEUE)

    record = ReminderSent.objects.get()
    assert (record.line.order_id, record.days) == (reminded.pk, 7)
    [request] = sms_gateway.received
    assert request["headers"]["Authorization"] == "Bearer worker-key"
    assert json.loads(request["body"])["mobile"] == "+8613900139000"
    event = OrderEvent.objects.get(order=stale, action="expire")
    assert event.actor_kind == OrderEvent.ActorKind.SYSTEM
    assert Order.objects.get(pk=reminded.pk).status == S.SUCCESS
