"""Reads of orders shared by the customer pages, the admin and tasks."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from django.core.cache import cache
from django.db.models import Count, Min, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from mall import pagecache

from .models import Agreement, CartItem, Order, OrderLine


@dataclass(frozen=True)
class Tab:
    key: str
    label: Promise
    statuses: tuple[str, ...]


S = Order.Status
# My Orders' tabs (guide step 4): 审核未通过 stays under 等待付款, 已退款 under 交易失败.
TABS = (
    Tab("awaiting", _("Awaiting payment"), (S.AWAITING_PAYMENT, S.REJECTED)),
    Tab("in_trade", _("In trade"), (S.IN_TRADE,)),
    Tab("success", _("Trade successful"), (S.SUCCESS,)),
    Tab("failed", _("Trade failed"), (S.FAILED, S.REFUNDED)),
    Tab("refunding", _("Refunding"), (S.REFUNDING,)),
)
TABS_BY_KEY = {tab.key: tab for tab in TABS}


def tab_key_for(value: str) -> str:
    """The tab a bookmarked My Orders URL asks for: a tab key (`?tab=success`) or an
    order status (`?status=success`, `?status=refunded`, which 交易失败 holds); "" when
    it names neither, which shows every order."""
    if value in TABS_BY_KEY:
        return value
    return next((tab.key for tab in TABS if value in tab.statuses), "")


@dataclass(frozen=True)
class OrderSearch:
    tab: str | None = None
    number: str = ""
    start: date | None = None
    end: date | None = None


def order_list_for_customer(*, customer, search: OrderSearch | None = None) -> QuerySet[Order]:
    """The customer's orders, newest first, with their lines, filtered by tab, by main
    order number or line serial, and by order date (inclusive, Asia/Shanghai)."""
    search = search or OrderSearch()
    orders = Order.objects.filter(customer=customer)
    if search.tab in TABS_BY_KEY:
        orders = orders.filter(status__in=TABS_BY_KEY[search.tab].statuses)
    number = search.number.strip().upper()
    if number:
        orders = orders.filter(Q(number=number) | Q(pk__in=OrderLine.objects.filter(serial=number).values("order_id")))
    # Bounds as local midnights, so the (customer, status, -submitted_at) index serves them;
    # the extreme dates of a date field would overflow and mean no bound anyway.
    if search.start and search.start > date.min:
        orders = orders.filter(submitted_at__gte=_local_midnight(search.start))
    if search.end and search.end < date.max:
        orders = orders.filter(submitted_at__lt=_local_midnight(search.end + timedelta(days=1)))
    # The contract (reverse one-to-one, invoicing app) is joined: My Orders links it.
    return orders.select_related("contract").prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")))


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def order_tab_counts(*, customer) -> dict[str, int]:
    """How many of the customer's orders each tab holds, in one query."""
    aggregates = {
        tab.key: Count("pk", filter=Q(status__in=tab.statuses)) for tab in TABS
    }
    return Order.objects.filter(customer=customer).aggregate(**aggregates)


def order_get_for_customer(*, customer, number: str) -> Order:
    """The customer's order by main number; Order.DoesNotExist for anyone else's."""
    return (
        Order.objects.filter(customer=customer)
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")), "events")
        .get(number=number)
    )


def cart_items_for(*, user) -> QuerySet[CartItem]:
    return CartItem.objects.filter(user=user, service__in=_on_sale()).select_related(
        "service__product_line", "service__platform", "service__module"
    )


def _on_sale():
    from catalog.models import Service

    return Service.objects.on_sale()


def order_review_queue() -> dict:
    """Orders awaiting review: how many, and when the oldest was submitted (None when
    the queue is empty). One query, served by the (status, submitted_at) index."""
    return Order.objects.filter(status=Order.Status.AWAITING_PAYMENT).aggregate(
        count=Count("pk"), oldest=Min("submitted_at")
    )


def service_end_for(*, start: date, months: int | None) -> date | None:
    """The last day of a service of `months` months starting on `start`; None for a
    one-off service. E.g. 12 months from 2026-01-31 end on 2027-01-30."""
    if not months:
        return None
    return start + relativedelta(months=months) - timedelta(days=1)


# Orders whose receipt was confirmed: they have (or are owed) an invoice and a contract.
CONFIRMED_STATUSES = (Order.Status.SUCCESS, Order.Status.REFUNDING, Order.Status.REFUNDED)
# Orders whose services run: reminders go out and My Orders flags lines ending soon.
ACTIVE_STATUSES = (Order.Status.IN_TRADE, Order.Status.SUCCESS)
# My Orders flags a line whose service ends within this many days (today included).
ENDING_SOON_DAYS = 30


def line_ending_soon(line: OrderLine, *, today: date | None = None) -> bool:
    """Whether `line` of an active order has its service ending within ENDING_SOON_DAYS."""
    if line.service_end is None or line.order.status not in ACTIVE_STATUSES:
        return False
    today = today or timezone.localdate()
    return 0 <= (line.service_end - today).days <= ENDING_SOON_DAYS


# --- the store ordering agreement -------------------------------------------------------


def agreements_in_force() -> QuerySet[Agreement]:
    """The agreements published by now, the current one first."""
    return Agreement.objects.filter(published_at__lte=timezone.now()).order_by("-published_at", "-id")


def agreement_current() -> Agreement | None:
    return agreements_in_force().first()


def agreement_next_published_at() -> datetime | None:
    """When an agreement published for a later date becomes the current one (or None)."""
    return Agreement.objects.filter(published_at__gt=timezone.now()).aggregate(at=Min("published_at"))["at"]


@dataclass(frozen=True)
class AgreementSchedule:
    current: Agreement | None
    next_published_at: datetime | None  # when one published for later takes over


AGREEMENT_CACHE_SECONDS = 10 * 60  # bounds how long the entries of older versions linger


def agreement_schedule() -> AgreementSchedule:
    """The agreement in force and when the next one takes over, as the checkout shows them
    and checks a customer's acceptance against. Cached per catalogue version (the page
    cache's shared version: every agreement saved bumps it, and another process's change
    shows within the 2 seconds a process trusts its copy), and read again once the next one
    has taken over. order_submit checks the accepted agreement in the database all the same."""
    version = pagecache.shared_version()
    key = f"orders:agreements:{version}"
    schedule = cache.get(key) if version is not None else None
    if schedule is None or (schedule.next_published_at is not None and schedule.next_published_at <= timezone.now()):
        schedule = AgreementSchedule(agreement_current(), agreement_next_published_at())
        if version is not None:
            cache.set(key, schedule, AGREEMENT_CACHE_SECONDS)
    return schedule
