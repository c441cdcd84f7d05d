import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from mall.constraints import CheckConstraint
from mall.pagecache import PageVisibleManager, PageVisibleQuerySet


def validate_regex(value):
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(_("Not a valid regular expression: %(error)s"), params={"error": exc}) from exc


class ProductLine(models.Model):
    """产品: a product of the vendor's that a customer runs (E3, E3+, E3全渠道 …)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64, unique=True)
    key_pattern = models.CharField(
        _("product key pattern"),
        max_length=200,
        validators=[validate_regex],
        help_text=_("Regular expression a product key of this line matches in full, e.g. E3P-[0-9A-F]{4}-[0-9A-F]{4}."),
    )
    sort = models.PositiveSmallIntegerField(_("sort order"), default=0)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["sort", "id"]
        verbose_name = _("product line")
        verbose_name_plural = _("product lines")

    def __str__(self):
        return self.name

    def matches_key(self, key):
        return re.fullmatch(self.key_pattern, key) is not None


class Platform(models.Model):
    """平台: an e-commerce platform a merchant sells on (京东, 天猫 …)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64, unique=True)
    logo = models.CharField(
        _("logo"), max_length=200, blank=True, help_text=_("Path of the logo under static/, e.g. platforms/jd.svg.")
    )
    refundable = models.BooleanField(
        _("refundable"), default=False, help_text=_("Orders for this platform may ask for a refund (可申请退款平台).")
    )
    sort = models.PositiveSmallIntegerField(_("sort order"), default=0)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["sort", "id"]
        verbose_name = _("platform")
        verbose_name_plural = _("platforms")

    def __str__(self):
        return self.name


class Module(models.Model):
    """模块: what the service connects (开放平台对接服务 …)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64, unique=True)
    description = models.TextField(_("description"), blank=True)
    sort = models.PositiveSmallIntegerField(_("sort order"), default=0)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["sort", "id"]
        verbose_name = _("module")
        verbose_name_plural = _("modules")

    def __str__(self):
        return self.name


class ServiceQuerySet(PageVisibleQuerySet):
    def on_sale(self):
        """Services a customer may see: active, and so are their line, platform and module."""
        return self.filter(
            active=True,
            product_line__active=True,
            platform__active=True,
            module__active=True,
        )


class Service(models.Model):
    """服务商品: the SKU, one per product line × platform × module."""

    product_line = models.ForeignKey(
        ProductLine, models.PROTECT, related_name="services", verbose_name=_("product line")
    )
    platform = models.ForeignKey(Platform, models.PROTECT, related_name="services", verbose_name=_("platform"))
    module = models.ForeignKey(Module, models.PROTECT, related_name="services", verbose_name=_("module"))
    name = models.CharField(_("name"), max_length=120)
    standard_price = models.DecimalField(
        _("standard price (CNY)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    unit = models.CharField(_("unit"), max_length=8, default="次")
    period_months = models.PositiveSmallIntegerField(
        _("service period (months)"), null=True, blank=True, help_text=_("Empty for a one-off service.")
    )
    refund_window_days = models.PositiveSmallIntegerField(
        _("refund window (days)"), default=7, help_text=_("Days after approval during which a refund may be asked.")
    )
    tax_rate = models.DecimalField(
        _("tax rate"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.06"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.2"))],
    )
    tax_category = models.CharField(
        _("tax classification"),
        max_length=40,
        blank=True,
        help_text=_("Printed on the invoice as *classification*service name; empty: INVOICE_TAX_CATEGORY."),
    )
    tax_code = models.CharField(
        _("tax classification code"),
        max_length=19,
        blank=True,
        validators=[RegexValidator(r"^[0-9]{19}$", _("A tax classification code has 19 digits."))],
        help_text=_("19 digits, for the tax system's import; empty: INVOICE_TAX_CODE."),
    )
    description = models.TextField(_("description"), blank=True)
    featured = models.BooleanField(_("featured on the home page"), default=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["product_line__sort", "platform__sort", "module__sort", "id"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.UniqueConstraint(
                fields=["product_line", "platform", "module"], name="catalog_service_unique_line_platform_module"
            ),
            CheckConstraint(
                condition=models.Q(standard_price__gte=0), name="catalog_service_price_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["active", "featured"], name="catalog_service_active_feat")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:service-detail", args=[self.pk])

    @property
    def refundable(self):
        return self.platform.refundable and self.refund_window_days > 0
