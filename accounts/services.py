"""Writes to accounts. Views and admin call these; nothing else writes these rows."""

from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from catalog.selectors import product_key_normalize, product_line_get_for_key

from .exceptions import AccountError
from .models import Message, ProductKey, User

PRODUCT_KEYS_MAX = 50


def user_register(*, username: str, email: str, password: str, real_name: str = "", mobile: str = "", company: str = "") -> User:
    """A new customer account. The form has checked the fields; the database constraints
    still catch a concurrent sign-up with the same name or email."""
    try:
        with transaction.atomic():
            return User.objects.create_user(
                username=username,
                email=email,
                password=password,
                real_name=real_name,
                mobile=mobile,
                company=company,
            )
    except IntegrityError:
        raise AccountError(_("This username or email address is already registered.")) from None


def user_update_profile(*, user: User, real_name: str, email: str, mobile: str, company: str) -> User:
    user.real_name, user.email, user.mobile, user.company = real_name, email, mobile, company
    try:
        with transaction.atomic():
            user.save(update_fields=["real_name", "email", "mobile", "company"])
    except IntegrityError:
        raise AccountError(_("This email address is already used by another account.")) from None
    return user


@transaction.atomic
def product_key_save(*, user: User, key: str, label: str = "") -> ProductKey:
    """Save a product key with the product line it resolves to.

    Raises catalog's ProductKeyError for a malformed or unknown key. Saving a key
    the user already has updates its label and product line.
    """
    key = product_key_normalize(key)
    line = product_line_get_for_key(key=key)
    existing = ProductKey.objects.select_for_update().filter(user=user, key=key).first()
    if existing:
        existing.label, existing.product_line = label or existing.label, line
        existing.save(update_fields=["label", "product_line"])
        return existing
    if ProductKey.objects.filter(user=user).count() >= PRODUCT_KEYS_MAX:
        raise AccountError(_("You can save at most %(max)s product keys.") % {"max": PRODUCT_KEYS_MAX})
    try:
        with transaction.atomic():
            return ProductKey.objects.create(user=user, key=key, label=label, product_line=line)
    except IntegrityError:  # the same key saved by a concurrent request
        return ProductKey.objects.get(user=user, key=key)


def product_key_delete(*, user: User, pk: int) -> None:
    """Delete one of the user's keys; another user's key is ProductKey.DoesNotExist."""
    ProductKey.objects.get(user=user, pk=pk).delete()


def email_send(*, subject: str, body: str, to: list[str], html_body: str | None = None, from_email: str | None = None) -> None:
    """Send one email now (plain text, with an HTML alternative when given)."""
    message = EmailMultiAlternatives(subject, body, from_email, to)
    if html_body:
        message.attach_alternative(html_body, "text/html")
    message.send()


def message_send(*, user: User, title: str, body: str = "", link: str = "") -> "Message":
    """An in-site message (我的消息) to `user`. Part of the caller's transaction."""
    return Message.objects.create(user=user, title=title[:200], body=body, link=link)
