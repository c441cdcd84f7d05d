from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from accounts.models import InvoiceProfile
from mall.constraints import CheckConstraint
from mall.pagecache import PageVisibleManager

MONEY = {"max_digits": 12, "decimal_places": 2}


def documents_storage_callable():
    """Private storage (settings.STORAGES["documents"]): no public URL; views that check
    ownership serve the files."""
    from django.core.files.storage import storages

    return storages["documents"]


class Agreement(models.Model):
    """《店铺订购协议》: the agreement a customer accepts at checkout, by version."""

    version = models.CharField(_("version"), max_length=32, unique=True)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    published_at = models.DateTimeField(
        _("published at"), null=True, blank=True, help_text=_("The newest published version is the one customers accept.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("store ordering agreement")
        verbose_name_plural = _("store ordering agreements")

    def __str__(self):
        return f"{self.title} ({self.version})"


class Order(ConcurrentTransitionMixin, models.Model):
    """主订单: one checkout. Its status changes only through orders.services."""

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment · under review")
        REJECTED = "rejected", _("Review not passed")
        IN_TRADE = "in_trade", _("In trade")
        SUCCESS = "success", _("Trade successful")
        REFUNDING = "refunding", _("Refunding")
        REFUNDED = "refunded", _("Refunded")
        FAILED = "failed", _("Trade failed")

    class PaymentMethod(models.TextChoices):
        THIRD_PARTY = "third_party", _("Third-party payment")
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")

    number = models.CharField(_("main order number"), max_length=32, unique=True)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="orders", verbose_name=_("customer")
    )
    status = FSMField(_("status"), max_length=20, choices=Status.choices, default=Status.AWAITING_PAYMENT, protected=True)
    # Repeating a checkout POST (double click, resend) finds the order it made.
    checkout_token = models.UUIDField(_("checkout token"), editable=False)

    # Invoice snapshot: copied from the profile at checkout; later profile edits never touch it.
    invoice_kind = models.CharField(_("invoice type"), max_length=16, choices=InvoiceProfile.Kind.choices)
    invoice_title_type = models.CharField(_("title type"), max_length=16, choices=InvoiceProfile.TitleType.choices)
    invoice_title = models.CharField(_("invoice title"), max_length=128)
    invoice_taxpayer_id = models.CharField(_("taxpayer id"), max_length=18, blank=True)
    invoice_address = models.CharField(_("registered address"), max_length=200, blank=True)
    invoice_phone = models.CharField(_("registered phone"), max_length=32, blank=True)
    invoice_bank = models.CharField(_("bank"), max_length=128, blank=True)
    invoice_account = models.CharField(_("bank account"), max_length=64, blank=True)
    invoice_contact = models.CharField(_("contact"), max_length=64, blank=True)
    invoice_contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)

    # 补充信息
    contract_customer_name = models.CharField(_("contract customer name"), max_length=128)
    marketplace_order_no = models.CharField(_("service market order number"), max_length=64)
    store_name = models.CharField(_("store name"), max_length=128)
    seller_nick = models.CharField(_("seller nick"), max_length=64)
    service_engineer = models.CharField(_("service engineer"), max_length=64)
    reminder_name = models.CharField(_("expiry reminder recipient"), max_length=64)
    reminder_mobile = models.CharField(_("recipient's mobile"), max_length=20)
    reminder_email = models.EmailField(_("recipient's email"))
    reminder_cc_email = models.EmailField(_("second recipient's email"), blank=True)
    remarks = models.TextField(_("remarks"), blank=True)

    payment_method = models.CharField(
        _("payment method"), max_length=16, choices=PaymentMethod.choices, default=PaymentMethod.THIRD_PARTY
    )
    subtotal = models.DecimalField(_("subtotal"), **MONEY)
    discount = models.DecimalField(_("discount"), **MONEY, default=Decimal("0.00"))
    total = models.DecimalField(_("total"), **MONEY)
    paid_amount = models.DecimalField(_("paid amount"), **MONEY, default=Decimal("0.00"))
    # The sum of completed refunds (refunds app); never more than the paid amount.
    refunded_amount = models.DecimalField(_("refunded amount"), **MONEY, default=Decimal("0.00"))

    agreement = models.ForeignKey(Agreement, models.PROTECT, related_name="+", verbose_name=_("agreement"))
    agreement_version = models.CharField(_("agreement version"), max_length=32)
    agreement_accepted_at = models.DateTimeField(_("agreement accepted at"))
    agreement_accepted_ip = models.GenericIPAddressField(_("agreement accepted from"), null=True, blank=True)

    rejection_reason = models.TextField(_("rejection reason"), blank=True)
    close_reason = models.TextField(_("close reason"), blank=True)

    submitted_at = models.DateTimeField(_("submitted at"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=["customer", "checkout_token"], name="orders_order_one_per_checkout"),
            CheckConstraint(condition=models.Q(total__gte=0), name="orders_order_total_not_negative"),
            CheckConstraint(
                condition=models.Q(refunded_amount__gte=0, refunded_amount__lte=models.F("paid_amount")),
                name="orders_order_refunds_within_paid",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status", "-submitted_at"], name="orders_order_customer_status"),
            models.Index(fields=["status", "submitted_at"], name="orders_order_status_queue"),
            # My Orders' "all orders" tab: newest first without sorting every order.
            models.Index(fields=["customer", "-submitted_at", "-id"], name="orders_order_customer_recent"),
        ]
        permissions = [
            ("review_order", _("Can approve or reject orders")),
            ("close_order", _("Can close orders")),
            ("export_order", _("Can export orders")),
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("orders:detail", args=[self.number])

    # The allowed moves (DESIGN.md → Order states). Only orders.services calls these,
    # under a row lock, and writes the matching OrderEvent.
    @transition(field=status, source=Status.REJECTED, target=Status.AWAITING_PAYMENT)
    def resubmit(self):
        pass

    @transition(field=status, source=Status.AWAITING_PAYMENT, target=Status.IN_TRADE)
    def approve(self):
        pass

    @transition(field=status, source=Status.AWAITING_PAYMENT, target=Status.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=[Status.AWAITING_PAYMENT, Status.REJECTED], target=Status.FAILED)
    def cancel(self):
        pass

    @transition(field=status, source=[Status.AWAITING_PAYMENT, Status.REJECTED, Status.IN_TRADE], target=Status.FAILED)
    def close(self):
        pass

    @transition(field=status, source=[Status.AWAITING_PAYMENT, Status.REJECTED], target=Status.FAILED)
    def expire(self):
        pass

    @transition(field=status, source=Status.IN_TRADE, target=Status.SUCCESS)
    def confirm_receipt(self):
        pass

    # Refunds (refunds.services): the order waits in 退款中 while a refund is open, then
    # returns to where it was, or ends as 已退款 when everything paid was refunded.
    @transition(field=status, source=[Status.IN_TRADE, Status.SUCCESS], target=Status.REFUNDING)
    def request_refund(self):
        pass

    @transition(field=status, source=Status.REFUNDING, target=RETURN_VALUE(Status.IN_TRADE, Status.SUCCESS))
    def withdraw_refund(self, back_to):
        return back_to

    @transition(field=status, source=Status.REFUNDING, target=RETURN_VALUE(Status.IN_TRADE, Status.SUCCESS))
    def reject_refund(self, back_to):
        return back_to

    @transition(
        field=status, source=Status.REFUNDING, target=RETURN_VALUE(Status.REFUNDED, Status.IN_TRADE, Status.SUCCESS)
    )
    def complete_refund(self, to):
        return to

    @property
    def refundable_amount(self):
        """What is left to refund: paid − refunded."""
        return self.paid_amount - self.refunded_amount

    @property
    def editable(self):
        return self.status in (self.Status.AWAITING_PAYMENT, self.Status.REJECTED)


class OrderLine(models.Model):
    """交易流水: one service in an order, with the catalog's name and price as they were."""

    order = models.ForeignKey(Order, models.CASCADE, related_name="lines", verbose_name=_("order"))
    serial = models.CharField(_("transaction serial number"), max_length=16, unique=True)
    service = models.ForeignKey("catalog.Service", models.PROTECT, related_name="+", verbose_name=_("service"))
    service_name = models.CharField(_("service name"), max_length=120)
    unit = models.CharField(_("unit"), max_length=8)
    unit_price = models.DecimalField(_("standard price"), **MONEY)
    quantity = models.PositiveSmallIntegerField(
        _("quantity"), validators=[MinValueValidator(1), MaxValueValidator(99)]
    )
    discount = models.DecimalField(_("discount"), **MONEY, default=Decimal("0.00"))
    subtotal = models.DecimalField(_("subtotal"), **MONEY)
    service_start = models.DateField(_("service start"), null=True, blank=True)
    service_end = models.DateField(_("service end"), null=True, blank=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")

    def __str__(self):
        return self.serial


class OrderEvent(models.Model):
    """One change of an order: the customer sees these as its timeline."""

    class ActorKind(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("System")

    order = models.ForeignKey(Order, models.CASCADE, related_name="events", verbose_name=_("order"))
    action = models.CharField(_("action"), max_length=32)
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("actor")
    )
    actor_kind = models.CharField(_("by"), max_length=16, choices=ActorKind.choices)
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("order event")
        verbose_name_plural = _("order events")

    def __str__(self):
        return f"{self.order_id} {self.action}"

    @property
    def note_display(self) -> str:
        """The note as people read it: an edit's note lists field names, shown as their
        labels in the active language."""
        if self.action != "edit":
            return self.note
        names = [name for name in self.note.split(",") if name]
        return ", ".join(str(Order._meta.get_field(name).verbose_name) for name in names)


class DailySerial(models.Model):
    """The last line serial handed out on a day; its row is locked while a serial is taken,
    so serials are gap-free and unique under concurrency."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily serial counter")
        verbose_name_plural = _("daily serial counters")

    def __str__(self):
        return f"{self.day:%y%m%d} {self.last:06d}"


class CartItem(models.Model):
    """清单: services a customer collects to check out together as one order."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="cart_items", verbose_name=_("user"))
    service = models.ForeignKey("catalog.Service", models.CASCADE, related_name="+", verbose_name=_("service"))
    quantity = models.PositiveSmallIntegerField(
        _("quantity"), default=1, validators=[MinValueValidator(1), MaxValueValidator(99)]
    )
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["added_at", "id"]
        verbose_name = _("list item")
        verbose_name_plural = _("list items")
        constraints = [models.UniqueConstraint(fields=["user", "service"], name="orders_cartitem_unique")]

    def __str__(self):
        return f"{self.service_id} × {self.quantity}"


class ReminderSent(models.Model):
    """到期提醒: a reminder that a line's service ends in `days` days, sent once per line and
    threshold (the unique constraint makes a rerun or a crash halfway send only the rest).
    Recorded before the messages go out, in the same transaction as the in-site message."""

    line = models.ForeignKey(OrderLine, models.CASCADE, related_name="reminders", verbose_name=_("order line"))
    days = models.PositiveSmallIntegerField(_("days before the end"))
    service_end = models.DateField(_("service end"))
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)
    channels = models.CharField(_("channels"), max_length=64, blank=True, help_text=_("e.g. email,sms,message"))

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("expiry reminder")
        verbose_name_plural = _("expiry reminders")
        constraints = [
            models.UniqueConstraint(fields=["line", "days", "service_end"], name="orders_reminder_once_per_threshold")
        ]

    def __str__(self):
        return f"{self.line} −{self.days}"


def payment_proof_name(instance, filename):
    """A random name: the customer's file name never reaches the storage."""
    import uuid

    return f"payment-proofs/{uuid.uuid4().hex}{instance.extension}"


class PaymentProof(models.Model):
    """上传回单: a remittance slip of a bank-transfer order, checked by its bytes and stored
    (images re-encoded) in private storage; served only to its owner and to staff."""

    order = models.ForeignKey(Order, models.CASCADE, related_name="payment_proofs", verbose_name=_("order"))
    file = models.FileField(_("file"), upload_to=payment_proof_name, storage=documents_storage_callable)
    content_type = models.CharField(_("content type"), max_length=32)
    size = models.PositiveIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    original_name = models.CharField(_("original file name"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+", verbose_name=_("uploaded by")
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("remittance slip")
        verbose_name_plural = _("remittance slips")

    def __str__(self):
        return f"{self.order} {self.uploaded_at:%Y-%m-%d %H:%M}"

    @property
    def extension(self) -> str:
        return {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}.get(self.content_type, "")
