"""Refunds: every write the business cares about.

A request moves the order to 退款中 and waits for finance; finance approves or rejects
it, then completes it with the bank's reference. Each step locks the order first and
then the request (always in that order), changes both, writes the order's event and
tells the customer. The invoices follow a completed refund (invoicing.services).
"""

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed

from accounts.validators import cn_mobile_to_e164
from invoicing.models import Invoice
from invoicing.services import invoices_after_refund
from mall.money import money
from orders.models import Order
from orders.services import order_event_record, order_move, order_notify

from .exceptions import RefundError
from .models import OPEN_STATUSES, RefundRequest

ACTION_LABELS = {
    "approve": gettext_lazy("Approve refund"),
    "reject": gettext_lazy("Reject refund"),
    "complete": gettext_lazy("Complete refund"),
    "withdraw": gettext_lazy("Withdraw refund"),
}
DESCRIPTION_MAX = 500
REFERENCE_MAX = 64
S = Order.Status


# --- Eligibility -------------------------------------------------------------------------


def refund_window_end(order: Order) -> date | None:
    """The last day a refund may be asked: approval + the longest refund window among
    the order's services on refundable platforms; None when none allows a refund."""
    if order.approved_at is None:
        return None
    days = [
        line.service.refund_window_days
        for line in order.lines.all()
        if line.service.platform.refundable and line.service.refund_window_days > 0
    ]
    if not days:
        return None
    return timezone.localtime(order.approved_at).date() + timedelta(days=max(days))


def refund_problem(order: Order, *, today: date | None = None) -> str | None:
    """Why 退款 is not offered for `order` now, in words for the customer; None when it is.
    Reads the order's lines with their services and platforms (prefetch them for lists)."""
    today = today or timezone.localdate()
    if order.status not in (S.IN_TRADE, S.SUCCESS):
        if order.status == S.REFUNDING:
            return _("A refund of this order is already under way.")
        return _("Order %(number)s is “%(status)s”: a refund can be asked only in trade or after a successful trade.") % {
            "number": order.number,
            "status": order.get_status_display(),
        }
    if not any(line.service.platform.refundable for line in order.lines.all()):
        return _("The platform of this order does not accept refunds.")
    end = refund_window_end(order)
    if end is None:
        return _("The services of this order cannot be refunded.")
    if today > end:
        return _("The refund period of this order ended on %(date)s.") % {"date": end.isoformat()}
    if order.refundable_amount <= 0:
        return _("Everything paid for this order has been refunded.")
    return None


def _problem_check(order: Order) -> None:
    problem = refund_problem(order)
    if problem:
        raise RefundError(problem)
    if order.refunds.filter(status__in=OPEN_STATUSES).exists():
        raise RefundError(_("A refund of this order is already under way."))


def amount_clean(value, *, order: Order) -> Decimal:
    """The refund amount as CNY: more than 0, at most paid − refunded, two places at most."""
    try:
        amount = Decimal(str(value).strip().replace(",", "").lstrip("¥"))
    except (InvalidOperation, ValueError):
        raise RefundError(_("Enter the refund amount as a number, e.g. 100.00.")) from None
    if not amount.is_finite():
        raise RefundError(_("Enter the refund amount as a number, e.g. 100.00."))
    # The bounds before quantize: quantizing 1e30 overflows the decimal context.
    if amount <= 0:
        raise RefundError(_("The refund amount must be more than ¥0.00."))
    if amount > order.refundable_amount:
        raise RefundError(
            _("The refund amount can be at most ¥%(max)s (paid ¥%(paid)s, already refunded ¥%(refunded)s).")
            % {"max": order.refundable_amount, "paid": order.paid_amount, "refunded": order.refunded_amount}
        )
    if amount != amount.quantize(Decimal("0.01")):
        raise RefundError(_("The refund amount can have at most two decimal places."))
    return money(amount)


# --- The customer ---------------------------------------------------------------------------


def refund_request(*, order: Order, actor, amount, reason: str, description: str = "", contact_mobile: str) -> RefundRequest:
    """提交退款: the order moves to 退款中 and a request waits for finance.

    A repeat of the same request (a double click) returns the open one it made; two
    concurrent requests make one (the order's row lock, and a unique constraint)."""
    if reason not in RefundRequest.Reason.values:
        raise RefundError(_("Choose a reason for the refund."))
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise RefundError(_("The description can be at most %(max)s characters.") % {"max": DESCRIPTION_MAX})
    try:
        mobile = cn_mobile_to_e164(contact_mobile or "")
    except ValidationError as error:
        raise RefundError(error.messages[0]) from None
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.customer_id != actor.pk:
            raise RefundError(_("Only the customer who placed the order can ask for its refund."))
        open_refund = locked.refunds.filter(status__in=OPEN_STATUSES).first()
        if open_refund and open_refund.reason == reason and str(open_refund.amount) == str(amount_or_none(amount)):
            return open_refund  # the same form sent twice
        _problem_check(locked)
        amount = amount_clean(amount, order=locked)
        try:
            with transaction.atomic():
                refund = RefundRequest.objects.create(
                    order=locked,
                    number=f"TK{''.join(c for c in locked.number if c.isdigit())}-{locked.refunds.count() + 1}",
                    amount=amount,
                    reason=reason,
                    description=description,
                    contact_mobile=mobile,
                    order_status_before=locked.status,
                )
        except IntegrityError:
            raise RefundError(_("A refund of this order is already under way.")) from None
        locked, _moved = order_move(locked, "request_refund", actor=actor, note=f"{refund.number} ¥{amount}")
        order_notify(
            locked,
            title=gettext_lazy("Refund %(refund)s of order %(number)s submitted"),
            body=gettext_lazy("Amount ¥%(amount)s. Finance reviews it; you can follow it under Refunds."),
            params={"refund": refund.number, "amount": str(amount)},
            email=True,
        )
    return refund


def amount_or_none(value):
    try:
        return money(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        return None


def refund_withdraw(*, refund: RefundRequest, actor) -> RefundRequest:
    """撤销: the customer takes back a refund finance has not decided yet; the order
    returns to where it was."""
    with transaction.atomic():
        order, locked = _lock(refund)
        if order.customer_id != actor.pk:
            raise RefundError(_("Only the customer who asked for this refund can withdraw it."))
        if locked.status == RefundRequest.Status.WITHDRAWN:
            return locked  # a double click
        if not can_proceed(locked.withdraw):
            raise RefundError(
                _("Refund %(refund)s is “%(status)s” and can no longer be withdrawn.")
                % {"refund": locked.number, "status": locked.get_status_display()}
            )
        locked.withdraw()
        locked.withdrawn_at = timezone.now()
        locked.save(update_fields=["status", "withdrawn_at", "updated_at"])
        order, _moved = order_move(
            order, "withdraw_refund", actor=actor, note=locked.number, args=(locked.order_status_before,)
        )
        order_notify(
            order,
            title=gettext_lazy("Refund %(refund)s of order %(number)s withdrawn"),
            params={"refund": locked.number},
            email=True,
        )
    return locked


# --- Finance -------------------------------------------------------------------------------


def refund_approve(*, refund: RefundRequest, actor) -> RefundRequest:
    """已同意: finance agrees to refund; the money goes back with refund_complete."""
    with transaction.atomic():
        order, locked = _lock(refund)
        if locked.status == RefundRequest.Status.APPROVED:
            return locked
        _refuse_unless(locked, locked.approve, ACTION_LABELS["approve"])
        locked.approve()
        locked.decided_at, locked.decided_by = timezone.now(), actor
        locked.save(update_fields=["status", "decided_at", "decided_by", "updated_at"])
        order_event_record(order, action="approve_refund", actor=actor, note=locked.number)
        order_notify(
            order,
            title=gettext_lazy("Refund %(refund)s of order %(number)s approved"),
            body=gettext_lazy("Finance approved your refund of ¥%(amount)s; the money follows."),
            params={"refund": locked.number, "amount": str(locked.amount)},
            email=True,
        )
    return locked


def refund_reject(*, refund: RefundRequest, actor, reason: str) -> RefundRequest:
    """已拒绝, with a reason the customer sees; the order returns to where it was."""
    reason = (reason or "").strip()
    if not reason:
        raise RefundError(_("Give the reason for the rejection: the customer sees it."))
    with transaction.atomic():
        order, locked = _lock(refund)
        if locked.status == RefundRequest.Status.REJECTED:
            return locked
        _refuse_unless(locked, locked.reject, ACTION_LABELS["reject"])
        locked.reject()
        locked.rejection_reason = reason
        locked.decided_at, locked.decided_by = timezone.now(), actor
        locked.save(update_fields=["status", "rejection_reason", "decided_at", "decided_by", "updated_at"])
        order, _moved = order_move(
            order, "reject_refund", actor=actor, note=f"{locked.number}: {reason}", args=(locked.order_status_before,)
        )
        order_notify(
            order,
            title=gettext_lazy("Refund %(refund)s of order %(number)s rejected"),
            body=gettext_lazy("Reason: %(reason)s"),
            params={"refund": locked.number, "reason": reason},
            email=True,
        )
    return locked


def refund_complete(*, refund: RefundRequest, actor, reference: str, refunded_on: date, red_reason: str = "") -> RefundRequest:
    """已退款: the money went back (the bank's reference and date). The order ends as
    已退款 when everything paid is refunded, or returns to where it was after a partial
    refund; the invoices follow (voided, re-issued, or a red-letter one queued)."""
    reference = (reference or "").strip()
    if not reference:
        raise RefundError(_("Enter the refund reference (the bank's or payment platform's number)."))
    if len(reference) > REFERENCE_MAX:
        raise RefundError(_("The refund reference can be at most %(max)s characters.") % {"max": REFERENCE_MAX})
    if refunded_on is None or refunded_on > timezone.localdate():
        raise RefundError(_("The refund date cannot be in the future."))
    if red_reason and red_reason not in Invoice.RedReason.values:
        raise RefundError(_("Choose a reason for the red-letter invoice."))
    with transaction.atomic():
        order, locked = _lock(refund)
        if locked.status == RefundRequest.Status.COMPLETED:
            return locked
        _refuse_unless(locked, locked.complete, ACTION_LABELS["complete"])
        if refunded_on < timezone.localtime(locked.requested_at).date():
            raise RefundError(_("The refund date cannot be before the request."))
        if locked.amount > order.refundable_amount:  # cannot happen through the services
            raise RefundError(_("This refund is more than what is left to refund on the order."))
        locked.complete()
        locked.reference, locked.refunded_on = reference, refunded_on
        locked.completed_at, locked.completed_by = timezone.now(), actor
        locked.save(update_fields=["status", "reference", "refunded_on", "completed_at", "completed_by", "updated_at"])
        refunded = order.refunded_amount + locked.amount
        target = S.REFUNDED if refunded >= order.paid_amount else locked.order_status_before

        def apply(o):
            o.refunded_amount = refunded
            return ["refunded_amount"]

        order, _moved = order_move(
            order, "complete_refund", actor=actor, note=f"{locked.number} ¥{locked.amount} {reference}", args=(target,), apply=apply
        )
        invoices_after_refund(order=order, amount=locked.amount, actor=actor, red_reason=red_reason)
        order_notify(
            order,
            title=gettext_lazy("Refund %(refund)s of order %(number)s completed"),
            body=gettext_lazy("¥%(amount)s was refunded on %(date)s (reference %(reference)s)."),
            params={"refund": locked.number, "amount": str(locked.amount), "date": refunded_on.isoformat(), "reference": reference},
            email=True,
        )
    return locked


def _lock(refund: RefundRequest) -> tuple[Order, RefundRequest]:
    """Locks the order, then the request (the same order everywhere: no deadlock)."""
    order = Order.objects.select_for_update().get(pk=refund.order_id)
    locked = RefundRequest.objects.select_for_update().get(pk=refund.pk)
    return order, locked


def _refuse_unless(refund: RefundRequest, transition, action) -> None:
    if not can_proceed(transition):
        raise RefundError(
            _("Refund %(refund)s is “%(status)s”: “%(action)s” is not possible now.")
            % {"refund": refund.number, "status": refund.get_status_display(), "action": action}
        )
