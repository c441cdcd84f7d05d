from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from mall.pagecache import PageVisibleManager, PageVisibleQuerySet


class UserManager(DjangoUserManager.from_queryset(PageVisibleQuerySet)):
    """Django's UserManager (create_user, …) on the page cache's queryset: a bulk update of
    users makes their cached pages stale too."""


class User(AbstractUser):
    """A customer or a staff member. Customers sign up themselves; staff are made by admins."""

    email = models.EmailField(_("email address"), blank=True)
    real_name = models.CharField(_("real name"), max_length=64, blank=True)
    mobile = models.CharField(_("mobile"), max_length=20, blank=True, help_text=_("A mainland China mobile number, e.g. 138 0013 8000."))
    company = models.CharField(_("company"), max_length=128, blank=True)

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="accounts_user_email_unique_ci"
            ),
        ]

    def __str__(self):
        return self.real_name or self.username


class ProductKey(models.Model):
    """A product key a customer saved, with the product line it resolved to when saved."""

    user = models.ForeignKey(User, models.CASCADE, related_name="product_keys", verbose_name=_("user"))
    key = models.CharField(_("product key"), max_length=64)
    label = models.CharField(_("label"), max_length=64, blank=True, help_text=_("E.g. which shop runs it."))
    product_line = models.ForeignKey(
        "catalog.ProductLine", models.PROTECT, related_name="+", verbose_name=_("product line")
    )
    created_at = models.DateTimeField(_("saved at"), auto_now_add=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("product key")
        verbose_name_plural = _("product keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="accounts_productkey_unique_per_user")]

    def __str__(self):
        return self.key


class InvoiceProfile(models.Model):
    """发票信息: invoice details a customer saved, copied onto each order at checkout."""

    class Kind(models.TextChoices):
        ORDINARY = "ordinary", _("Ordinary invoice")
        SPECIAL = "special", _("Special VAT invoice")

    class TitleType(models.TextChoices):
        COMPANY = "company", _("Company")
        INDIVIDUAL = "individual", _("Individual")

    user = models.ForeignKey(User, models.CASCADE, related_name="invoice_profiles", verbose_name=_("user"))
    kind = models.CharField(_("invoice type"), max_length=16, choices=Kind.choices, default=Kind.ORDINARY)
    title_type = models.CharField(_("title type"), max_length=16, choices=TitleType.choices, default=TitleType.COMPANY)
    title = models.CharField(_("invoice title"), max_length=128)
    taxpayer_id = models.CharField(_("taxpayer id"), max_length=18, blank=True)
    address = models.CharField(_("registered address"), max_length=200, blank=True)
    phone = models.CharField(_("registered phone"), max_length=32, blank=True)
    bank = models.CharField(_("bank"), max_length=128, blank=True)
    account = models.CharField(_("bank account"), max_length=64, blank=True)
    contact = models.CharField(_("contact"), max_length=64, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["-is_default", "-updated_at", "-id"]
        verbose_name = _("invoice profile")
        verbose_name_plural = _("invoice profiles")
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_default=True), name="accounts_invoiceprofile_one_default"
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.get_kind_display()})"


class Address(models.Model):
    """收货地址: where paper invoices are mailed."""

    user = models.ForeignKey(User, models.CASCADE, related_name="addresses", verbose_name=_("user"))
    recipient = models.CharField(_("recipient"), max_length=64)
    mobile = models.CharField(_("mobile"), max_length=20)
    region = models.CharField(_("province / city / district"), max_length=100)
    detail = models.CharField(_("street address"), max_length=200)
    postal_code = models.CharField(_("postal code"), max_length=6, blank=True)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["-is_default", "-updated_at", "-id"]
        verbose_name = _("mailing address")
        verbose_name_plural = _("mailing addresses")
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=models.Q(is_default=True), name="accounts_address_one_default"),
        ]

    def __str__(self):
        return f"{self.recipient} {self.region}{self.detail}"


class Message(models.Model):
    """我的消息: an in-site notice to a customer."""

    user = models.ForeignKey(User, models.CASCADE, related_name="messages", verbose_name=_("user"))
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [models.Index(fields=["user", "read_at"], name="accounts_message_unread")]

    def __str__(self):
        return self.title
