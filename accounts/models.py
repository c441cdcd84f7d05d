from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A customer or a staff member. Customers sign up themselves; staff are made by admins."""

    email = models.EmailField(_("email address"), blank=True)
    real_name = models.CharField(_("real name"), max_length=64, blank=True)
    mobile = models.CharField(_("mobile"), max_length=20, blank=True, help_text=_("Stored in E.164, e.g. +8613800138000."))
    company = models.CharField(_("company"), max_length=128, blank=True)

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

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("product key")
        verbose_name_plural = _("product keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="accounts_productkey_unique_per_user")]

    def __str__(self):
        return self.key
