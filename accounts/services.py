"""Writes to accounts. Views and admin call these; nothing else writes these rows."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.selectors import product_key_normalize, product_line_get_for_key

from .exceptions import AccountError
from .models import Address, InvoiceProfile, Message, ProductKey, User
from .validators import (
    cn_mobile_to_e164,
    invoice_profile_errors,
    uscc_normalize,
    validate_postal_code,
    validate_uscc,
)

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


def message_send(*, user: User, title: str, body: str = "", link: str = "") -> "Message":
    """An in-site message (我的消息) to `user`. Part of the caller's transaction."""
    return Message.objects.create(user=user, title=title[:200], body=body, link=link)


# --- Invoice profiles (发票信息) and addresses (收货地址) ---------------------------------
#
# One default per user, enforced by a partial unique constraint that is checked per
# statement: the old default is always unset before the new one is set, inside one
# transaction that holds row locks on all the user's rows (taken in id order, so two
# requests of one user never deadlock). Two concurrent first saves both see no rows
# to lock; the constraint then refuses the second default and it is saved as a plain row.

INVOICE_PROFILE_FIELDS = (
    "kind",
    "title_type",
    "title",
    "taxpayer_id",
    "address",
    "phone",
    "bank",
    "account",
    "contact",
    "contact_phone",
)
ADDRESS_FIELDS = ("recipient", "mobile", "region", "detail", "postal_code")


def _lock_all(model, *, user) -> list:
    return list(model.objects.select_for_update().filter(user=user).order_by("pk"))


def _apply(instance, data: dict, fields: tuple[str, ...]) -> None:
    for name in fields:
        if name in data:
            value = data[name]
            setattr(instance, name, value.strip() if isinstance(value, str) else value)


def _check(instance, errors: dict) -> None:
    """Raise ValidationError with `errors` and whatever the model's own field checks add."""
    try:
        instance.full_clean(exclude=["user", "is_default", *errors], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        errors = {**error.message_dict, **errors}
    if errors:
        raise ValidationError(errors)


def _invoice_profile_check(profile: InvoiceProfile) -> None:
    """The rules InvoiceProfileForm shows beside its fields, enforced again for any caller."""
    errors = {}
    profile.taxpayer_id = uscc_normalize(profile.taxpayer_id)
    if profile.taxpayer_id:
        try:
            validate_uscc(profile.taxpayer_id)
        except ValidationError as error:
            errors["taxpayer_id"] = error.messages
    if profile.contact_phone:
        try:
            profile.contact_phone = cn_mobile_to_e164(profile.contact_phone)
        except ValidationError as error:
            errors["contact_phone"] = error.messages
    fields = {name: getattr(profile, name) for name in INVOICE_PROFILE_FIELDS}
    for name, message in invoice_profile_errors(fields).items():
        errors.setdefault(name, [message])
    _check(profile, errors)


def _address_check(address: Address) -> None:
    errors = {}
    try:
        address.mobile = cn_mobile_to_e164(address.mobile)
    except ValidationError as error:
        errors["mobile"] = error.messages
    address.postal_code = "".join(address.postal_code.split())
    if address.postal_code:
        try:
            validate_postal_code(address.postal_code)
        except ValidationError as error:
            errors["postal_code"] = error.messages
    _check(address, errors)


def _default_create(instance, *, user) -> None:
    """Insert `instance` for `user`; the user's first row becomes the default."""
    model = type(instance)
    instance.user = user
    instance.is_default = not _lock_all(model, user=user)
    try:
        with transaction.atomic():
            instance.save(force_insert=True)
    except IntegrityError:
        if not instance.is_default:
            raise
        instance.pk, instance.is_default = None, False  # a concurrent first save took the default
        instance.save(force_insert=True)


def _default_set(instance) -> None:
    model = type(instance)
    if all(row.pk != instance.pk for row in _lock_all(model, user=instance.user_id)):
        raise model.DoesNotExist  # deleted by a concurrent request
    model.objects.filter(user=instance.user_id, is_default=True).exclude(pk=instance.pk).update(is_default=False)
    model.objects.filter(pk=instance.pk).update(is_default=True)
    instance.is_default = True


def _default_delete(instance) -> None:
    """Delete `instance`; when it was the default, the most recently updated remaining row
    (the top of the user's list) becomes the default."""
    model = type(instance)
    rows = _lock_all(model, user=instance.user_id)
    locked = next((row for row in rows if row.pk == instance.pk), None)
    if locked is None:  # already deleted by a concurrent request
        return
    locked.delete()
    if locked.is_default:
        successor = model.objects.filter(user=instance.user_id).order_by("-updated_at", "-id").first()
        if successor is not None:
            model.objects.filter(pk=successor.pk).update(is_default=True)


@transaction.atomic
def invoice_profile_create(*, user: User, data: dict) -> InvoiceProfile:
    """A new invoice profile from `data` (InvoiceProfileForm's cleaned_data, or a dict with
    its field names). Raises ValidationError (by field) when the data breaks a rule."""
    profile = InvoiceProfile()
    _apply(profile, data, INVOICE_PROFILE_FIELDS)
    _invoice_profile_check(profile)
    _default_create(profile, user=user)
    return profile


@transaction.atomic
def invoice_profile_update(*, profile: InvoiceProfile, data: dict) -> InvoiceProfile:
    """Change the fields in `data`; the default mark is changed only by invoice_profile_set_default."""
    _apply(profile, data, INVOICE_PROFILE_FIELDS)
    _invoice_profile_check(profile)
    profile.save(update_fields=[*INVOICE_PROFILE_FIELDS, "updated_at"])
    return profile


@transaction.atomic
def invoice_profile_delete(*, profile: InvoiceProfile) -> None:
    """Orders keep their own copy of the invoice details, so deleting never changes an order."""
    _default_delete(profile)


@transaction.atomic
def invoice_profile_set_default(*, profile: InvoiceProfile) -> InvoiceProfile:
    _default_set(profile)
    return profile


@transaction.atomic
def address_create(*, user: User, data: dict) -> Address:
    """A new mailing address from `data` (AddressForm's cleaned_data). ValidationError by field."""
    address = Address()
    _apply(address, data, ADDRESS_FIELDS)
    _address_check(address)
    _default_create(address, user=user)
    return address


@transaction.atomic
def address_update(*, address: Address, data: dict) -> Address:
    _apply(address, data, ADDRESS_FIELDS)
    _address_check(address)
    address.save(update_fields=[*ADDRESS_FIELDS, "updated_at"])
    return address


@transaction.atomic
def address_delete(*, address: Address) -> None:
    _default_delete(address)


@transaction.atomic
def address_set_default(*, address: Address) -> Address:
    _default_set(address)
    return address


# --- Messages (我的消息) ----------------------------------------------------------------


def message_mark_read(*, message: Message) -> Message:
    """Mark one message read; reading it again keeps the first time it was read."""
    if message.read_at is None:
        now = timezone.now()
        Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=now)
        message.read_at = now
    return message


def message_mark_all_read(*, user: User) -> int:
    """Mark all the user's unread messages read; returns how many there were."""
    return Message.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def staff_groups_sync() -> dict:
    """Each staff group exists with exactly its role's permissions (accounts.roles).

    The migrations do this on deploy; this puts the groups back where a test database
    was flushed (transactional tests) or a group was deleted by hand."""
    from django.contrib.auth.models import Group, Permission

    from .roles import GROUP_PERMISSIONS

    groups = {}
    for name, wanted in GROUP_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=name)
        lookups = [tuple(label.split(".", 1)) for label in wanted]
        permissions = Permission.objects.filter(
            content_type__app_label__in={app for app, _codename in lookups},
            codename__in={codename for _app, codename in lookups},
        ).select_related("content_type")
        wanted_pairs = set(lookups)
        group.permissions.set(p for p in permissions if (p.content_type.app_label, p.codename) in wanted_pairs)
        groups[name] = group
    return groups
