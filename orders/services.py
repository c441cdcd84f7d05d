"""Every write to orders. Views, the admin and tasks call these; nothing else changes
an order's status. Each state change locks the order row, checks the move against
the state machine on the model, saves, and writes an OrderEvent, in one transaction."""

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django_fsm import can_proceed

from accounts.models import InvoiceProfile
from accounts.services import invoice_profile_create, message_send
from accounts.validators import cn_mobile_to_e164
from catalog.models import Service
from mall.celery import enqueue_on_commit
from mall.email import email_versions
from mall.money import money
from mall.tasks import email_render_send_task

from .exceptions import OrderError, TransitionRefused
from .models import Agreement, CartItem, DailySerial, Order, OrderEvent, OrderLine
from .selectors import agreements_in_force, service_end_for

logger = logging.getLogger(__name__)

QUANTITY_MAX = 99
APPROVE_START_MAX_DAYS = 366  # a service may be scheduled up to a year ahead
REMARKS_MAX = 500
NUMBER_ATTEMPTS = 8

# Supplementary fields (补充信息) a customer enters and may edit while the order is under review.
DETAIL_FIELDS = (
    "contract_customer_name",
    "marketplace_order_no",
    "store_name",
    "seller_nick",
    "service_engineer",
    "reminder_name",
    "reminder_mobile",
    "reminder_email",
    "reminder_cc_email",
    "remarks",
)
OPTIONAL_DETAILS = ("reminder_cc_email", "remarks")
INVOICE_FIELDS = {
    "invoice_kind": "kind",
    "invoice_title_type": "title_type",
    "invoice_title": "title",
    "invoice_taxpayer_id": "taxpayer_id",
    "invoice_address": "address",
    "invoice_phone": "phone",
    "invoice_bank": "bank",
    "invoice_account": "account",
    "invoice_contact": "contact",
    "invoice_contact_phone": "contact_phone",
}

# Action names as the customer reads them in messages.
ACTION_LABELS = {
    "submit": gettext_lazy("Submit order"),
    "resubmit": gettext_lazy("Resubmit for review"),
    "approve": gettext_lazy("Approve"),
    "reject": gettext_lazy("Reject"),
    "cancel": gettext_lazy("Cancel order"),
    "close": gettext_lazy("Close order"),
    "expire": gettext_lazy("Expire"),
    "confirm_receipt": gettext_lazy("Confirm receipt"),
    "reminder": gettext_lazy("Expiry reminder sent"),
    "edit": gettext_lazy("Modify information"),
    "upload_payment_proof": gettext_lazy("Upload remittance slip"),
    # Written by the invoicing app on the order's timeline.
    "documents_ready": gettext_lazy("Invoice information and e-contract ready"),
    "invoice_issue": gettext_lazy("Invoice issued"),
    "invoice_deliver": gettext_lazy("Invoice mailed"),
    "invoice_cancel": gettext_lazy("Invoice voided"),
    "invoice_reverse": gettext_lazy("Invoice reversed by a red-letter invoice"),
    "invoice_red_letter": gettext_lazy("Red-letter invoice queued"),
    "invoice_reissue": gettext_lazy("Invoice re-issued for the remainder"),
    # Refunds (refunds app).
    "request_refund": gettext_lazy("Request refund"),
    "withdraw_refund": gettext_lazy("Withdraw refund"),
    "approve_refund": gettext_lazy("Refund approved"),
    "reject_refund": gettext_lazy("Refund rejected"),
    "complete_refund": gettext_lazy("Refund completed"),
}


@dataclass(frozen=True)
class CheckoutItem:
    service_id: int
    quantity: int


# --- Numbers ---------------------------------------------------------------------


def order_number_generate(*, now=None) -> str:
    """BS-ZX + local time to the second + 4 random digits, e.g. BS-ZX202105121200462141."""
    now = timezone.localtime(now)
    return f"BS-ZX{now:%Y%m%d%H%M%S}{random.SystemRandom().randrange(10000):04d}"


def order_line_serials_take(*, count: int, day: date | None = None) -> list[str]:
    """`count` consecutive line serials of `day` (default today, Asia/Shanghai): %y%m%d + 6 digits.

    One statement creates the day's counter row or adds `count` to it and returns the
    new last serial; the row stays locked until the caller's transaction ends, so
    concurrent checkouts take distinct serials, and a rolled-back checkout leaves no gap.
    (An insert, a SELECT … FOR UPDATE and an update before: two round trips fewer.)
    """
    day = day or timezone.localdate()
    quote = connection.ops.quote_name
    table, last = quote(DailySerial._meta.db_table), quote("last")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({quote('day')}, {last}) VALUES (%s, %s) "
            f"ON CONFLICT ({quote('day')}) DO UPDATE SET {last} = {table}.{last} + excluded.{last} RETURNING {last}",
            [day, count],
        )
        (new_last,) = cursor.fetchone()
    first = new_last - count + 1
    return [f"{day:%y%m%d}{n:06d}" for n in range(first, new_last + 1)]


# --- Checkout ----------------------------------------------------------------------


def _details_clean(details: dict, *, partial: bool = False) -> dict:
    """The supplementary info as stored, checked for every caller (forms check it too,
    but the admin and tasks call the services directly): required fields present,
    the mobile in E.164, valid emails, remarks at most REMARKS_MAX characters.
    With `partial`, only the fields given are checked and returned."""
    names = [name for name in DETAIL_FIELDS if name in details] if partial else list(DETAIL_FIELDS)
    cleaned = {name: str(details.get(name) or "").strip() for name in names}
    missing = [name for name in names if name not in OPTIONAL_DETAILS and not cleaned[name]]
    if missing:
        separator = pgettext("list separator", ", ")
        labels = separator.join(str(Order._meta.get_field(name).verbose_name) for name in missing)
        raise OrderError(_("Fill in: %(fields)s.") % {"fields": labels})
    try:
        if "reminder_mobile" in cleaned:
            cleaned["reminder_mobile"] = cn_mobile_to_e164(cleaned["reminder_mobile"])
        for name in ("reminder_email", "reminder_cc_email"):
            if cleaned.get(name):
                validate_email(cleaned[name])
    except ValidationError as error:
        raise OrderError(error.messages[0]) from None
    if len(cleaned.get("remarks", "")) > REMARKS_MAX:
        raise OrderError(_("Remarks can be at most %(max)s characters.") % {"max": REMARKS_MAX})
    return cleaned


def order_price_lines(*, items: list[CheckoutItem]) -> list[dict]:
    """The lines of a checkout priced from the catalog (never from the form).

    Raises OrderError when the list is empty, a quantity is out of range, or a service
    is not on sale.
    """
    if not items:
        raise OrderError(_("Choose at least one service to order."))
    services = Service.objects.on_sale().order_by().in_bulk([item.service_id for item in items])  # no ORDER BY: a dict
    lines = []
    for item in items:
        if not 1 <= item.quantity <= QUANTITY_MAX:
            raise OrderError(_("The quantity must be between 1 and %(max)s.") % {"max": QUANTITY_MAX})
        service = services.get(item.service_id)
        if service is None:
            raise OrderError(_("A service in this order is no longer on sale. Please choose again."))
        discount = Decimal("0.00")
        lines.append(
            {
                "service": service,
                "quantity": item.quantity,
                "unit_price": service.standard_price,
                "discount": discount,
                "subtotal": money(service.standard_price * item.quantity - discount),
            }
        )
    return lines


def order_submit(
    *,
    customer,
    items: list[CheckoutItem],
    invoice_profile: InvoiceProfile,
    details: dict,
    payment_method: str,
    agreement: Agreement,
    accepted_ip: str | None,
    checkout_token: uuid.UUID,
    from_cart: bool = False,
) -> Order:
    """店铺订购结算: one main order with a line per service, awaiting review.

    Repeating the same checkout (same token) returns the order it made instead of a
    second one, whatever changed since (the agreement, a service taken off sale, the
    list emptied by the first). The invoice profile is copied, so later edits of it
    never reach the order.

    A repeat is rare, so it is not looked for first: it is found when a check fails, or
    when the insert meets the unique (customer, checkout token) constraint. One
    statement fewer for every checkout that is not one.
    """
    try:
        details, lines = _submission_checked(
            customer=customer, items=items, invoice_profile=invoice_profile, details=details,
            payment_method=payment_method, agreement=agreement,
        )
    except OrderError:
        existing = _order_of_checkout(customer, checkout_token)
        if existing:
            return existing
        raise
    subtotal = money(sum(line["unit_price"] * line["quantity"] for line in lines))
    discount = money(sum(line["discount"] for line in lines))
    now = timezone.now()
    fields = _order_fields(
        customer=customer,
        checkout_token=checkout_token,
        invoice_profile=invoice_profile,
        details=details,
        payment_method=payment_method,
        agreement=agreement,
        accepted_ip=accepted_ip,
        subtotal=subtotal,
        discount=discount,
        now=now,
    )
    # The whole checkout is retried when its number was taken in the same second (one
    # transaction, no savepoint around the insert: two round trips fewer per order).
    for _attempt in range(NUMBER_ATTEMPTS):
        number = order_number_generate(now=now)
        try:
            with transaction.atomic():
                order = Order.objects.create(number=number, **fields)
                serials = order_line_serials_take(count=len(lines))
                OrderLine.objects.bulk_create(
                    OrderLine(
                        order=order,
                        serial=serial,
                        service=line["service"],
                        service_name=line["service"].name,
                        unit=line["service"].unit,
                        unit_price=line["unit_price"],
                        quantity=line["quantity"],
                        discount=line["discount"],
                        subtotal=line["subtotal"],
                    )
                    for serial, line in zip(serials, lines, strict=True)
                )
                _event(order, action="submit", from_status="", actor=customer)
                if from_cart:
                    CartItem.objects.filter(user=customer, service_id__in=[item.service_id for item in items]).delete()
                _notify(
                    order,
                    title=gettext_lazy("Order %(number)s submitted"),
                    body=gettext_lazy("Your order is awaiting review. We will tell you the result here."),
                    email=True,
                )
            return order
        except IntegrityError:
            # A repeat of this checkout (made before, or concurrently): answer with its order.
            existing = _order_of_checkout(customer, checkout_token)
            if existing:
                return existing
            if not Order.objects.filter(number=number).exists():
                raise  # not a number clash
    raise OrderError(_("The shop is very busy. Please submit again."))


def _submission_checked(*, customer, items, invoice_profile, details, payment_method, agreement) -> tuple[dict, list]:
    """The checkout's details cleaned and its lines priced; OrderError when anything in it
    cannot be ordered."""
    if invoice_profile is None or invoice_profile.user_id != customer.pk:
        raise OrderError(_("Choose one of your own invoice profiles."))
    details = _details_clean(details)
    if agreement is None or agreement.pk != agreements_in_force().values_list("pk", flat=True).first():
        raise OrderError(_("The store ordering agreement has changed. Please read and accept the current version."))
    if payment_method not in Order.PaymentMethod.values:
        raise OrderError(_("Choose a payment method."))
    return details, order_price_lines(items=items)


def _order_of_checkout(customer, checkout_token) -> Order | None:
    """The order a checkout made, if it made one (at most one: a unique constraint). Asked
    only when a checkout failed a check or met that constraint, never on the way of one
    that places its order."""
    return Order.objects.filter(customer=customer, checkout_token=checkout_token).first()


def _order_fields(*, customer, checkout_token, invoice_profile, details, payment_method, agreement, accepted_ip, subtotal, discount, now):
    return {
        "customer": customer,
        "checkout_token": checkout_token,
        "payment_method": payment_method,
        "subtotal": subtotal,
        "discount": discount,
        "total": money(subtotal - discount),
        "agreement": agreement,
        "agreement_version": agreement.version,
        "agreement_accepted_at": now,
        "agreement_accepted_ip": accepted_ip,
        "submitted_at": now,
        **_invoice_snapshot(invoice_profile),
        **{name: details.get(name, "") for name in DETAIL_FIELDS},
    }


def _invoice_snapshot(profile: InvoiceProfile) -> dict:
    return {order_field: getattr(profile, profile_field) for order_field, profile_field in INVOICE_FIELDS.items()}


# --- 清单 (the list of services checked out together) and checkout ----------------------


def _quantity_check(quantity) -> None:
    if not isinstance(quantity, int) or not 1 <= quantity <= QUANTITY_MAX:
        raise OrderError(_("The quantity must be between 1 and %(max)s.") % {"max": QUANTITY_MAX})


def cart_add(*, user, service_id: int, quantity: int = 1) -> CartItem:
    """加入清单: put a service on sale on the user's list; adding it again adds to its
    quantity, up to the most one order line takes. Service.DoesNotExist when the
    service is not on sale."""
    _quantity_check(quantity)
    service = Service.objects.on_sale().get(pk=service_id)
    with transaction.atomic():
        # get_or_create retries the read when a concurrent add inserted the row first.
        item, created = CartItem.objects.select_for_update().get_or_create(
            user=user, service=service, defaults={"quantity": quantity}
        )
        if not created:
            item.quantity = min(item.quantity + quantity, QUANTITY_MAX)
            item.save(update_fields=["quantity"])
    return item


def cart_update(*, user, item_id: int, quantity: int) -> CartItem:
    """A new quantity for one of the user's list items; another user's is CartItem.DoesNotExist."""
    _quantity_check(quantity)
    with transaction.atomic():
        item = CartItem.objects.select_for_update().get(user=user, pk=item_id)
        item.quantity = quantity
        item.save(update_fields=["quantity"])
    return item


def cart_remove(*, user, item_id: int) -> None:
    """Take an item off the user's list; another user's is CartItem.DoesNotExist."""
    CartItem.objects.get(user=user, pk=item_id).delete()


def order_checkout(
    *,
    customer,
    items: list[CheckoutItem],
    invoice_profile: InvoiceProfile | None = None,
    new_invoice_data: dict | None = None,
    details: dict,
    payment_method: str,
    agreement: Agreement,
    accepted_ip: str | None,
    checkout_token: uuid.UUID,
    from_cart: bool = False,
) -> Order:
    """店铺订购结算 with a saved invoice profile, or with one added on the spot
    (`new_invoice_data`: InvoiceProfileForm's cleaned_data). The new profile and the
    order are made together or not at all: an OrderError (or the profile's
    ValidationError) leaves neither.
    """
    submit = {
        "customer": customer,
        "items": items,
        "details": details,
        "payment_method": payment_method,
        "agreement": agreement,
        "accepted_ip": accepted_ip,
        "checkout_token": checkout_token,
        "from_cart": from_cart,
    }
    if new_invoice_data is None:
        if invoice_profile is None:
            raise OrderError(_("Choose the invoice details for this order."))
        return order_submit(invoice_profile=invoice_profile, **submit)
    with transaction.atomic():
        # The customer's row lock queues repeats of this checkout (a double click), so
        # the second finds the order of the first and adds no second profile.
        # Lock order: user, then invoice profiles, then the day's serial counter.
        get_user_model().objects.select_for_update(no_key=True).get(pk=customer.pk)
        existing = _order_of_checkout(customer, checkout_token)
        if existing:
            return existing
        profile = invoice_profile_create(user=customer, data=new_invoice_data)
        return order_submit(invoice_profile=profile, **submit)


# --- Notifications -------------------------------------------------------------------

def _notify(order: Order, *, title, body="", email: bool = False, params: dict | None = None) -> None:
    """Tell the customer: a message in 我的消息 now (part of the caller's transaction) and,
    with `email`, an email in both languages that a worker renders and sends once the
    transaction commits.

    `title` is a lazy string with %(number)s (and `params`), rendered per language;
    `body` too when `params` are given (otherwise it is used as it is: a reviewer's
    reason may contain a %).
    """
    number = {"number": order.number, **(params or {})}

    def text(body):
        return str(body) % number if params else str(body)

    # Stored text, read later by the customer: in the shop's language, not in that of
    # whoever acted (a reviewer may use the English admin).
    with translation.override(settings.LANGUAGE_CODE):
        message_send(user=order.customer, title=str(title) % number, body=text(body), link=order.get_absolute_url())
    if not (email and order.customer.email):
        return
    enqueue_on_commit(
        email_render_send_task,
        template="orders/emails/order_status",
        versions=email_versions(lambda: {"headline": str(title) % number, "paragraphs": [text(body)] if body else []}),
        context={
            "name": str(order.customer),
            "number": order.number,
            "total": str(order.total),
            "url": f"{settings.SITE_URL.rstrip('/')}{order.get_absolute_url()}",
        },
        to=[order.customer.email],
    )


def order_notify(order: Order, *, title, body="", email: bool = False, params: dict | None = None) -> None:
    """Tell the customer about something that happened to `order` (used by the apps that
    act on orders: invoicing, refunds). See _notify."""
    _notify(order, title=title, body=body, email=email, params=params)


def order_event_record(order: Order, *, action: str, actor=None, note: str = "") -> OrderEvent:
    """An event on the order's timeline that does not move its status (an invoice issued,
    a document ready). The caller holds the lock on the object that changed."""
    return _event(order, action=action, from_status=order.status, actor=actor, note=note)


# --- State changes -------------------------------------------------------------------


def _event(order, *, action, from_status, actor=None, note=""):
    if actor is None:
        kind = OrderEvent.ActorKind.SYSTEM
    elif actor.pk == order.customer_id:
        kind = OrderEvent.ActorKind.CUSTOMER
    else:
        kind = OrderEvent.ActorKind.STAFF
    return OrderEvent.objects.create(
        order=order, action=action, from_status=from_status, to_status=order.status, actor=actor, actor_kind=kind, note=note
    )


def order_move(order: Order, move: str, *, actor, note: str = "", fields=(), apply=None, args=()) -> tuple[Order, bool]:
    """The same as _change, for the apps that move orders (refunds)."""
    return _change(order, move, actor=actor, note=note, fields=fields, apply=apply, args=args)


def _change(order: Order, move: str, *, actor, note: str = "", fields=(), apply=None, args=()) -> tuple[Order, bool]:
    """Lock the order, make `move` (a transition method of Order), save, write the event.

    A repeat of the move that was just made (a double click, a concurrent request)
    finds the order already moved and changes nothing. Any other refused move raises
    TransitionRefused and changes nothing. Returns the order and whether it moved.
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        transition = getattr(locked, move)
        if not can_proceed(transition):
            # The last move of the status: events that leave it as it was (an edit, the
            # documents made, an invoice issued) may follow a confirmation.
            last = locked.events.exclude(from_status=F("to_status")).order_by("-at", "-id").first()
            if last and last.action == move:
                return locked, False
            raise TransitionRefused(locked, ACTION_LABELS[move])
        from_status = locked.status
        transition(*args)
        changed = apply(locked) if apply else ()
        locked.save(update_fields=["status", "updated_at", *fields, *changed])
        _event(locked, action=move, from_status=from_status, actor=actor, note=note)
    return locked, True


def order_edit(*, order: Order, actor, details: dict, invoice_profile: InvoiceProfile | None = None) -> Order:
    """修改信息: new supplementary info (and invoice snapshot) while the order awaits review
    or was rejected. Saving a rejected order resubmits it for review."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if not locked.editable:
            raise TransitionRefused(locked, ACTION_LABELS["edit"])
        if invoice_profile is not None and invoice_profile.user_id != locked.customer_id:
            raise OrderError(_("Choose one of your own invoice profiles."))
        details = _details_clean(details, partial=True)
        changed = []
        for name in DETAIL_FIELDS:
            if name in details and getattr(locked, name) != details[name]:
                setattr(locked, name, details[name])
                changed.append(name)
        if invoice_profile is not None:
            for name, value in _invoice_snapshot(invoice_profile).items():
                if getattr(locked, name) != value:
                    setattr(locked, name, value)
                    changed.append(name)
        if changed:  # a resent form with nothing new leaves no event
            locked.save(update_fields=["updated_at", *changed])
            # Field names, not labels: the timeline shows them in the reader's language.
            _event(locked, action="edit", from_status=locked.status, actor=actor, note=",".join(changed))
        if locked.status == Order.Status.REJECTED:
            locked, _moved = _change(locked, "resubmit", actor=actor)
            _notify(locked, title=gettext_lazy("Order %(number)s resubmitted for review"))
    return locked


def order_cancel(*, order: Order, actor) -> Order:
    """取消订单, by the customer while the order awaits review or was rejected."""

    def apply(o):
        o.failed_at = timezone.now()
        return ["failed_at"]

    return _change(order, "cancel", actor=actor, apply=apply)[0]


def order_approve(
    *,
    order: Order,
    actor,
    paid_amount: Decimal | None = None,
    service_start: date | None = None,
    unchanged_since=None,
) -> Order:
    """审核通过: the order moves to 交易中; each line's service period starts.

    With `unchanged_since` (the order's updated_at when the reviewer opened it), an order
    the customer modified in the meantime is refused: the reviewer must see it again.
    """
    start = service_start or timezone.localdate()

    def apply(o):
        if unchanged_since is not None and o.updated_at != unchanged_since:
            raise OrderError(_("The customer changed this order after you opened it: please review it again."))
        earliest, latest = timezone.localtime(o.submitted_at).date(), timezone.localdate() + timedelta(days=APPROVE_START_MAX_DAYS)
        if not earliest <= start <= latest:
            raise OrderError(
                _("The service start must be between the order date %(earliest)s and %(latest)s.")
                % {"earliest": earliest, "latest": latest}
            )
        if o.payment_method == Order.PaymentMethod.BANK_TRANSFER and not o.payment_proofs.exists():
            raise OrderError(
                _("A bank-transfer order needs a remittance slip before it can be approved: ask the customer to upload one.")
            )
        o.paid_amount = money(o.total if paid_amount is None else paid_amount)
        if o.paid_amount < 0 or o.paid_amount > o.total:
            raise OrderError(_("The paid amount must be between 0 and the order total."))
        o.approved_at = timezone.now()
        for line in o.lines.select_related("service"):
            line.service_start = start
            line.service_end = service_end_for(start=start, months=line.service.period_months)
            line.save(update_fields=["service_start", "service_end"])
        return ["paid_amount", "approved_at"]

    with transaction.atomic():
        approved, moved = _change(order, "approve", actor=actor, apply=apply)
        if moved:
            _notify(
                approved,
                title=gettext_lazy("Order %(number)s approved"),
                body=gettext_lazy("Your order passed review and is now in trade. Its service period has started."),
                email=True,
            )
    return approved


def _move_with_reason(order, move, *, actor, reason, missing, title, reason_field, time_field) -> Order:
    """A staff move that needs a reason the customer is told (reject, close)."""
    reason = (reason or "").strip()
    if not reason:
        raise OrderError(missing)

    def apply(o):
        setattr(o, reason_field, reason)
        setattr(o, time_field, timezone.now())
        return [reason_field, time_field]

    with transaction.atomic():
        moved_order, moved = _change(order, move, actor=actor, note=reason, apply=apply)
        if moved:
            _notify(moved_order, title=title, body=reason, email=True)
    return moved_order


def order_reject(*, order: Order, actor, reason: str) -> Order:
    """审核未通过: the customer sees `reason`, modifies the order and resubmits it."""
    return _move_with_reason(
        order,
        "reject",
        actor=actor,
        reason=reason,
        missing=_("Give the reason for the rejection: the customer sees it."),
        title=gettext_lazy("Order %(number)s did not pass review"),
        reason_field="rejection_reason",
        time_field="rejected_at",
    )


def order_close(*, order: Order, actor, reason: str) -> Order:
    """关闭订单, by staff, with a reason."""
    return _move_with_reason(
        order,
        "close",
        actor=actor,
        reason=reason,
        missing=_("Give the reason for closing the order."),
        title=gettext_lazy("Order %(number)s was closed"),
        reason_field="close_reason",
        time_field="failed_at",
    )


def order_expire(*, order: Order) -> Order:
    """The system closes an order left awaiting review or rejected for too long; the
    customer is told."""

    def apply(o):
        o.failed_at = timezone.now()
        return ["failed_at"]

    with transaction.atomic():
        expired, moved = _change(order, "expire", actor=None, apply=apply)
        if moved:
            _notify(
                expired,
                title=gettext_lazy("Order %(number)s expired"),
                body=gettext_lazy(
                    "The order was not completed within %(days)s days and was closed. You can place a new order at any time."
                ),
                params={"days": settings.ORDER_EXPIRE_DAYS},
                email=True,
            )
    return expired


def order_confirm_receipt(*, order: Order, actor=None) -> Order:
    """确认收货 (the customer, or the system when `actor` is None): 交易中 → 交易成功.

    The documents hook (settings.ORDER_DOCUMENTS_HOOK) is called with the order inside
    the same transaction, once per confirmation: the invoicing app records the request
    there and hands it to a worker after commit.
    """

    def apply(o):
        o.completed_at = timezone.now()
        return ["completed_at"]

    with transaction.atomic():
        confirmed, moved = _change(order, "confirm_receipt", actor=actor, apply=apply)
        if moved:
            _notify(
                confirmed,
                title=gettext_lazy("Order %(number)s completed"),
                body=gettext_lazy("Thank you. The invoice information is being prepared."),
                email=True,
            )
            import_string(settings.ORDER_DOCUMENTS_HOOK)(order=confirmed)
    return confirmed


def orders_confirm_due(*, now=None) -> list[str]:
    """The system confirms receipt of every order in trade for ORDER_AUTO_CONFIRM_DAYS
    since its approval (each in its own transaction, with its documents following).
    Returns the numbers confirmed; an order that fails is logged and left for the next run."""
    now = now or timezone.now()
    due = Order.objects.filter(
        status=Order.Status.IN_TRADE, approved_at__lte=now - timedelta(days=settings.ORDER_AUTO_CONFIRM_DAYS)
    ).order_by("approved_at", "pk")
    confirmed = []
    for order in due.iterator():
        try:
            moved = order_confirm_receipt(order=order)
        except OrderError:
            logger.info("order %s moved on before the automatic confirmation", order.number)
            continue
        except Exception:  # one broken order must not stop the others
            logger.exception("automatic confirmation of order %s failed", order.number)
            continue
        if moved.status == Order.Status.SUCCESS:
            confirmed.append(order.number)
    return confirmed


def _expire_due(now):
    """Orders awaiting review for ORDER_EXPIRE_DAYS since they were submitted (or last
    resubmitted), or rejected for as long since the rejection."""
    cutoff = now - timedelta(days=settings.ORDER_EXPIRE_DAYS)
    resubmitted_since = OrderEvent.objects.filter(order=OuterRef("pk"), action="resubmit", at__gt=cutoff)
    return Order.objects.filter(
        Q(status=Order.Status.AWAITING_PAYMENT, submitted_at__lte=cutoff) & ~Exists(resubmitted_since)
        | Q(status=Order.Status.REJECTED, rejected_at__lte=cutoff)
    )


def orders_expire_due(*, now=None) -> list[str]:
    """The system closes (交易失败) every order left awaiting review or rejected for
    ORDER_EXPIRE_DAYS, each in its own transaction, telling its customer. Returns the
    numbers expired; an order that fails is logged and left for the next run."""
    now = now or timezone.now()
    expired = []
    for pk, number in _expire_due(now).order_by("submitted_at", "pk").values_list("pk", "number"):
        try:
            with transaction.atomic():
                # Checked again under the lock: the customer may have resubmitted or cancelled meanwhile.
                order = _expire_due(now).select_for_update(of=("self",)).filter(pk=pk).first()
                if order is None:
                    continue
                order_expire(order=order)
        except OrderError:
            logger.info("order %s moved on before it expired", number)
            continue
        except Exception:  # one broken order must not stop the others
            logger.exception("expiry of order %s failed", number)
            continue
        expired.append(number)
    return expired
