"""Template helpers of the order admin: the review queue on the admin index and how
long an order has waited."""

from django import template
from django.utils import timezone
from django.utils.translation import ngettext

from orders.selectors import order_review_queue

register = template.Library()


@register.filter
def waiting_time(since, now=None) -> str:
    """How long since `since`, to the hour past a day and to the minute below it:
    "3 days 4 hours", "5 hours 12 minutes", "7 minutes"."""
    if since is None:
        return ""
    seconds = max(0, int(((now or timezone.now()) - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        parts = [ngettext("%(num)d day", "%(num)d days", days) % {"num": days}]
        if hours:
            parts.append(ngettext("%(num)d hour", "%(num)d hours", hours) % {"num": hours})
    elif hours:
        parts = [ngettext("%(num)d hour", "%(num)d hours", hours) % {"num": hours}]
        if minutes:
            parts.append(ngettext("%(num)d minute", "%(num)d minutes", minutes) % {"num": minutes})
    else:
        parts = [ngettext("%(num)d minute", "%(num)d minutes", minutes) % {"num": minutes}]
    return " ".join(parts)


@register.simple_tag
def order_queues() -> dict:
    """The admin index's order queues (one query); the template shows them only to
    staff who may view orders."""
    return {"review": order_review_queue()}
