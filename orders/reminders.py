"""到期提醒 (expiry reminders): the daily job that tells an order's reminder recipient that
a line's service is about to end, by email (the second recipient in copy), SMS and an
in-site message to the customer.

The rule: a line whose service ends in exactly d days, d in settings.REMINDER_DAYS, gets
the d-day reminder today. A day the job did not run is not caught up: tomorrow the line
is at d-1 days and gets nothing until the next threshold (a late "30 days left" would be
wrong, and the next threshold comes soon enough).

Once per line, threshold and end date: the ReminderSent row is written in the same
transaction as the in-site message and the order's event, and the email and SMS are
handed to workers only after it commits. A rerun (or a concurrent run) finds the row and
skips the line; a crash halfway leaves the unsent lines without a row, so the rerun sends
only those.
"""

import logging
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import services as account_services
from mall.celery import enqueue_on_commit
from mall.email import email_versions
from mall.tasks import email_render_send_task

from . import tasks
from .models import Order, OrderLine, ReminderSent
from .selectors import ACTIVE_STATUSES
from .services import order_event_record

logger = logging.getLogger(__name__)

def reminder_lines_due(*, today: date) -> list[OrderLine]:
    """Lines of active orders ending in exactly one of REMINDER_DAYS days from `today`,
    without that reminder yet; each with `days_left`."""
    thresholds = sorted(set(settings.REMINDER_DAYS))
    if not thresholds:
        return []
    ends = {today + timedelta(days=days): days for days in thresholds}
    lines = (
        OrderLine.objects.filter(service_end__in=list(ends), order__status__in=ACTIVE_STATUSES)
        .annotate(
            days_left=Case(*(When(service_end=end, then=Value(days)) for end, days in ends.items()), output_field=IntegerField())
        )
        .exclude(
            Exists(
                ReminderSent.objects.filter(line=OuterRef("pk"), service_end=OuterRef("service_end"), days=OuterRef("days_left"))
            )
        )
        .order_by("service_end", "id")
    )
    return list(lines)


def reminders_send(*, today: date | None = None) -> list[tuple[str, int]]:
    """The daily job: send every reminder due `today` (default: today in Asia/Shanghai),
    each in its own transaction. Returns (line serial, days) of the reminders sent; a line
    that fails is logged and left for the next run."""
    today = today or timezone.localdate()
    sent = []
    for line in reminder_lines_due(today=today):
        try:
            if reminder_send(line=line, today=today):
                sent.append((line.serial, line.days_left))
        except Exception:  # one broken line must not stop the others
            logger.exception("expiry reminder for line %s not sent", line.serial)
    return sent


def reminder_send(*, line: OrderLine, today: date) -> bool:
    """Send the reminder due `today` for `line`, unless it was sent already or the line is
    no longer due (the order moved on, its service end changed). Returns whether it was sent."""
    with transaction.atomic():
        # The order's lock serialises concurrent runs on its lines; the unique row is the
        # guard where there are no row locks (SQLite).
        order = Order.objects.select_for_update(of=("self",), no_key=True).select_related("customer").get(pk=line.order_id)
        line = OrderLine.objects.get(pk=line.pk)
        if order.status not in ACTIVE_STATUSES or line.service_end is None:
            return False
        days = (line.service_end - today).days
        if days not in settings.REMINDER_DAYS:
            return False
        channels = ["message", "email"] + (["sms"] if order.reminder_mobile else [])
        try:
            with transaction.atomic():
                ReminderSent.objects.create(line=line, days=days, service_end=line.service_end, channels=",".join(channels))
        except IntegrityError:
            return False
        order_event_record(order, action="reminder", note=f"{line.serial} · {days}")
        _reminder_notify(order, line, days)
    return True


def reminder_urls(order: Order) -> tuple[str, str | None]:
    """The order's page and its renewal (续订), None where renewal is not offered: the
    renewal is for completed orders, as on the order's page."""
    order_url = order.get_absolute_url()
    if order.status != Order.Status.SUCCESS:
        return order_url, None
    try:
        return order_url, reverse("orders:renew", args=[order.number])
    except NoReverseMatch:  # a build without the renewal page
        return order_url, None


def _texts(order: Order, line: OrderLine, days: int) -> tuple[str, str]:
    """Title and body in the active language."""
    params = {"number": order.number, "days": days, "service": line.service_name, "serial": line.serial, "end": line.service_end}
    title = ngettext(
        "The service of order %(number)s ends in %(days)d day",
        "The service of order %(number)s ends in %(days)d days",
        days,
    ) % params
    body = _("%(service)s (line %(serial)s) ends on %(end)s. Renew it to keep the service running.") % params
    return title, body


def _reminder_notify(order: Order, line: OrderLine, days: int) -> None:
    site = settings.SITE_URL.rstrip("/")
    order_url, renew_url = reminder_urls(order)
    # The message and SMS are stored or sent in the shop's language; the email has both.
    with translation.override(settings.LANGUAGE_CODE):
        title, body = _texts(order, line, days)
        account_services.message_send(user=order.customer, title=title, body=body, link=order_url)
        # A Chinese SMS opens with the sender's signature in 【】 (carriers require it).
        sms_text = _("[%(signature)s] %(title)s. %(body)s %(link)s") % {
            "signature": _("Cloud Mall"),
            "title": title,
            "body": body,
            "link": f"{site}{renew_url or order_url}",
        }
    def texts():
        title, body = _texts(order, line, days)
        return {"headline": title, "paragraphs": [body]}

    enqueue_on_commit(
        email_render_send_task,
        template="orders/emails/reminder",
        versions=email_versions(texts),
        context={
            "name": str(order.reminder_name or order.customer),
            "number": order.number,
            "service_name": line.service_name,
            "serial": line.serial,
            "service_end": line.service_end.isoformat(),
            "order_url": f"{site}{order_url}",
            "renew_url": f"{site}{renew_url}" if renew_url else "",
        },
        to=[order.reminder_email],
        cc=[order.reminder_cc_email] if order.reminder_cc_email else None,
    )
    if order.reminder_mobile:
        enqueue_on_commit(tasks.sms_send_task, mobile=order.reminder_mobile, text=sms_text)
