"""咨询管理 (inquiries): every write of customers' questions and staff answers.

Views and the admin call these; nothing else writes Inquiry or InquiryMessage rows.

A repeated submission (a double click, a resent form) carries the id of the last message
its sender saw (`after`): a newer message from the same side with the same text means the
first submission went through, and the repeat changes nothing.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Message, User
from accounts.services import message_send
from mall.celery import enqueue_on_commit
from mall.email import email_versions
from mall.tasks import email_render_send_task

from .exceptions import InquiryError
from .models import Inquiry, InquiryMessage

SUBJECT_MAX = Inquiry._meta.get_field("subject").max_length  # 120
BODY_MAX = 2000
ANSWERED_TITLE = gettext_lazy("Your inquiry “%(subject)s” was answered")


def _clean_text(value, *, field: str, max_length: int, label) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: _("Please enter the %(field)s.") % {"field": label}})
    if len(value) > max_length:
        raise ValidationError(
            {
                field: _("The %(field)s may have at most %(max)d characters (it has %(length)d).")
                % {"field": label, "max": max_length, "length": len(value)}
            }
        )
    return value


def _is_repeat(inquiry: Inquiry, *, from_staff: bool, body: str, after: int | None) -> bool:
    """Whether a message like this one, from the same side, came after message `after`."""
    if after is None:
        return False
    return (
        InquiryMessage.objects.filter(inquiry=inquiry, pk__gt=after, from_staff=from_staff, body=body).exists()
    )


def inquiry_create(
    *, customer: User, subject: str, body: str, service_id=None, order_number: str | None = None
) -> Inquiry:
    """A new question, about a service on sale or one of the customer's orders (or neither).

    Raises ValidationError (by field: subject, body, service, order) and creates nothing
    when a rule is broken."""
    from catalog.models import Service
    from catalog.selectors import service_get_on_sale
    from orders.models import Order

    errors = {}
    try:
        subject = _clean_text(subject, field="subject", max_length=SUBJECT_MAX, label=_("subject"))
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        body = _clean_text(body, field="body", max_length=BODY_MAX, label=_("question"))
    except ValidationError as error:
        errors.update(error.message_dict)
    service = order = None
    if service_id not in (None, ""):
        try:
            service = service_get_on_sale(pk=int(service_id))
        except (ValueError, TypeError, Service.DoesNotExist):
            errors["service"] = [_("This service is not on sale: ask about another one.")]
    if order_number:
        order = Order.objects.filter(customer=customer, number=str(order_number).strip()).first()
        if order is None:
            errors["order"] = [_("You have no order with this number.")]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        inquiry = Inquiry.objects.create(
            customer=customer, subject=subject, service=service, order=order, last_customer_message_at=now
        )
        InquiryMessage.objects.create(inquiry=inquiry, author=customer, from_staff=False, body=body)
    return inquiry


def inquiry_reply(*, inquiry: Inquiry, customer: User, body: str, after: int | None = None) -> tuple[Inquiry, bool]:
    """The customer adds to the thread; the inquiry is open again (back in the staff
    queue), closed or not. Returns the inquiry and whether a message was added (False for
    a repeat of the same reply). ValidationError on the body."""
    body = _clean_text(body, field="body", max_length=BODY_MAX, label=_("message"))
    with transaction.atomic():
        locked = Inquiry.objects.select_for_update().get(pk=inquiry.pk, customer=customer)
        if _is_repeat(locked, from_staff=False, body=body, after=after):
            return locked, False
        InquiryMessage.objects.create(inquiry=locked, author=customer, from_staff=False, body=body)
        locked.status = Inquiry.Status.OPEN
        locked.last_customer_message_at = timezone.now()
        locked.save(update_fields=["status", "last_customer_message_at"])
    return locked, True


def inquiry_close(*, inquiry: Inquiry, customer: User) -> tuple[Inquiry, bool]:
    """The customer ends the thread (a reply opens it again). Closing a closed inquiry
    changes nothing; returns whether it was closed now."""
    with transaction.atomic():
        locked = Inquiry.objects.select_for_update().get(pk=inquiry.pk, customer=customer)
        if locked.status == Inquiry.Status.CLOSED:
            return locked, False
        locked.status = Inquiry.Status.CLOSED
        locked.save(update_fields=["status"])
    return locked, True


def inquiry_answer(*, inquiry: Inquiry, actor: User, body: str, after: int | None) -> tuple[Inquiry, bool]:
    """Staff answer: a staff message in the thread, the inquiry answered (out of the queue),
    the customer told in 我的消息 and by email (Chinese and English, text and HTML).

    `after` is the id of the last message the staff member saw. A repeat of the same
    answer changes nothing (returns False). When the customer wrote again meanwhile, or
    someone else answered, InquiryError asks to read the thread first; a closed inquiry
    is not answered. ValidationError on the body."""
    body = _clean_text(body, field="body", max_length=BODY_MAX, label=_("answer"))
    with transaction.atomic():
        locked = Inquiry.objects.select_for_update(of=("self",), no_key=True).select_related("customer").get(pk=inquiry.pk)
        if _is_repeat(locked, from_staff=True, body=body, after=after):
            return locked, False
        last = InquiryMessage.objects.filter(inquiry=locked).order_by("-created_at", "-id").first()
        if after is not None and last is not None and last.pk != after:
            raise InquiryError(
                _("The thread changed while you were writing: read the new messages, then answer again.")
            )
        if locked.status == Inquiry.Status.CLOSED:
            raise InquiryError(_("The customer closed this inquiry: it cannot be answered now."))
        now = timezone.now()
        InquiryMessage.objects.create(inquiry=locked, author=actor, from_staff=True, body=body)
        locked.status, locked.answered_at = Inquiry.Status.ANSWERED, now
        locked.save(update_fields=["status", "answered_at"])
        _notify_answered(locked, body=body)
    return locked, True


def inquiry_mark_seen(*, inquiry: Inquiry) -> int:
    """The customer opened the thread: the notices of its answers in 我的消息 are read."""
    # update() makes the customer's cached pages stale: the unread count in every header.
    return Message.objects.filter(
        user=inquiry.customer_id, link=inquiry.get_absolute_url(), read_at__isnull=True
    ).update(read_at=timezone.now())


def _notify_answered(inquiry: Inquiry, *, body: str) -> None:
    """我的消息 now (in the shop's language: staff may use the English admin), and an email
    in Chinese and English sent once the transaction commits."""
    params = {"subject": inquiry.subject}
    link = inquiry.get_absolute_url()
    with translation.override(settings.LANGUAGE_CODE):
        message_send(user=inquiry.customer, title=str(ANSWERED_TITLE) % params, body=body[:500], link=link)
    if not inquiry.customer.email:
        return
    enqueue_on_commit(
        email_render_send_task,
        template="inquiries/emails/inquiry_answered",
        versions=email_versions(lambda: {"headline": str(ANSWERED_TITLE) % params}),
        context={"name": str(inquiry.customer), "answer": body, "url": f"{settings.SITE_URL.rstrip('/')}{link}"},
        to=[inquiry.customer.email],
    )
