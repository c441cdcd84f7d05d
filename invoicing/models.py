"""Invoices (发票), e-contracts (电子合同) and the record of producing them.

Status fields change only in invoicing.services, under a row lock, and each change
writes an OrderEvent on the order's timeline.
"""

import secrets

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.db.models.functions import Round
from django.db.models.lookups import Exact
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from accounts.models import InvoiceProfile
from mall.constraints import CheckConstraint
from mall.pagecache import PageVisibleManager
from orders.models import MONEY, Order, OrderLine


def documents_storage():
    """Where PDFs live: settings.STORAGES["documents"], never under a public URL. Views
    that check ownership serve them."""
    return storages["documents"]


def verification_token() -> str:
    return secrets.token_urlsafe(24)


class DocumentJob(models.Model):
    """The request to produce an order's invoice and contract, recorded in the same
    transaction as the receipt confirmation, so the work survives a broker that is down.
    The sweeper re-enqueues a job that is not done after a while."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    order = models.OneToOneField(Order, models.CASCADE, related_name="document_job", verbose_name=_("order"))
    # Bookkeeping, not a business state: invoicing.services moves it with row-locked updates.
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    enqueued_at = models.DateTimeField(_("last sent to a worker"), null=True, blank=True)
    started_at = models.DateTimeField(_("last started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    worker = models.CharField(_("worker"), max_length=200, blank=True, help_text=_("host:pid of the last run"))
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("document job")
        verbose_name_plural = _("document jobs")
        indexes = [models.Index(fields=["status", "requested_at"], name="invoicing_job_status")]

    def __str__(self):
        return f"{self.order_id} {self.status}"


class Invoice(ConcurrentTransitionMixin, models.Model):
    """发票 (for now the 开票信息 finance issues from): buyer as snapshotted on the order,
    seller from settings, one line per order line, tax-inclusive amounts split per line."""

    class Status(models.TextChoices):
        PENDING = "pending", _("To be issued")
        ISSUED = "issued", _("Issued")
        DELIVERED = "delivered", _("Mailed")
        CANCELLED = "cancelled", _("Voided")
        REVERSED = "reversed", _("Reversed (red-letter)")

    class Purpose(models.TextChoices):
        ORIGINAL = "original", _("Original")
        REISSUE = "reissue", _("Re-issue")
        RED_LETTER = "red_letter", _("Red-letter")

    class RedReason(models.TextChoices):
        """Why a red-letter invoice reverses an issued one (红字发票 reason codes)."""

        SALES_RETURN = "sales_return", _("Sales return")
        SERVICE_TERMINATION = "service_termination", _("Service terminated")
        INVOICING_ERROR = "invoicing_error", _("Invoicing error")
        SALES_ALLOWANCE = "sales_allowance", _("Sales allowance")

    order = models.ForeignKey(Order, models.PROTECT, related_name="invoices", verbose_name=_("order"))
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices, default=Purpose.ORIGINAL)
    original = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="corrections", verbose_name=_("corrects invoice")
    )
    red_reason = models.CharField(_("red-letter reason"), max_length=24, choices=RedReason.choices, blank=True)
    status = FSMField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING, protected=True)
    kind = models.CharField(_("invoice type"), max_length=16, choices=InvoiceProfile.Kind.choices)

    buyer_title = models.CharField(_("buyer"), max_length=128)
    buyer_taxpayer_id = models.CharField(_("buyer's taxpayer id"), max_length=18, blank=True)
    buyer_address = models.CharField(_("buyer's address"), max_length=200, blank=True)
    buyer_phone = models.CharField(_("buyer's phone"), max_length=32, blank=True)
    buyer_bank = models.CharField(_("buyer's bank"), max_length=128, blank=True)
    buyer_account = models.CharField(_("buyer's account"), max_length=64, blank=True)
    buyer_email = models.EmailField(_("email for the e-invoice"), blank=True)

    seller_name = models.CharField(_("seller"), max_length=128)
    seller_taxpayer_id = models.CharField(_("seller's taxpayer id"), max_length=18)
    seller_address = models.CharField(_("seller's address"), max_length=200, blank=True)
    seller_phone = models.CharField(_("seller's phone"), max_length=32, blank=True)
    seller_bank = models.CharField(_("seller's bank"), max_length=128, blank=True)
    seller_account = models.CharField(_("seller's account"), max_length=64, blank=True)

    amount = models.DecimalField(_("amount excluding tax"), **MONEY)
    tax = models.DecimalField(_("tax"), **MONEY)
    total = models.DecimalField(_("total including tax"), **MONEY)
    total_in_words = models.CharField(_("total in words"), max_length=64)

    sheet = models.FileField(_("invoice information sheet"), storage=documents_storage, blank=True)
    number = models.CharField(_("invoice number"), max_length=20, null=True, blank=True, unique=True)
    issued_on = models.DateField(_("issue date"), null=True, blank=True)
    official_pdf = models.FileField(_("official invoice PDF"), storage=documents_storage, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    delivered_at = models.DateTimeField(_("mailed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [
            # Exactly one original invoice per order, whatever the retries.
            models.UniqueConstraint(
                fields=["order"], condition=models.Q(purpose="original"), name="invoicing_invoice_one_original"
            ),
            # In fen: SQLite stores decimals as floats, where 1164.69 + 69.88 != 1234.57.
            CheckConstraint(
                condition=Exact(
                    Round(models.F("total") * 100), Round(models.F("amount") * 100) + Round(models.F("tax") * 100)
                ),
                name="invoicing_invoice_total_adds_up",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="invoicing_invoice_queue")]
        permissions = [
            ("issue_invoice", _("Can issue and mail invoices")),
            ("export_invoice", _("Can export invoices")),
        ]

    def __str__(self):
        return self.number or f"{self.order} #{self.pk}"

    def get_absolute_url(self):
        return reverse("invoicing:download", args=[self.pk])

    @property
    def document(self):
        """What the customer downloads: the official PDF once finance uploaded it,
        otherwise the information sheet."""
        return self.official_pdf or self.sheet

    @property
    def tax_rates(self) -> list:
        return sorted({line.tax_rate for line in self.lines.all()})

    @transition(field=status, source=Status.PENDING, target=Status.ISSUED)
    def issue(self):
        pass

    @transition(field=status, source=Status.ISSUED, target=Status.DELIVERED)
    def deliver(self):
        pass

    @transition(field=status, source=Status.PENDING, target=Status.CANCELLED)
    def cancel(self):
        pass

    @transition(field=status, source=[Status.ISSUED, Status.DELIVERED], target=Status.REVERSED)
    def reverse(self):
        pass


class InvoiceLine(models.Model):
    """One 项目 of an invoice, from one order line."""

    invoice = models.ForeignKey(Invoice, models.CASCADE, related_name="lines", verbose_name=_("invoice"))
    order_line = models.ForeignKey(
        OrderLine, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("order line")
    )
    item_name = models.CharField(
        _("item"), max_length=160, help_text=_("Tax classification and service, e.g. *软件服务*E3-京东开放平台对接服务")
    )
    tax_code = models.CharField(_("tax classification code"), max_length=19)
    unit = models.CharField(_("unit"), max_length=8)
    quantity = models.IntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price excluding tax"), max_digits=18, decimal_places=8)
    amount = models.DecimalField(_("amount excluding tax"), **MONEY)
    tax_rate = models.DecimalField(_("tax rate"), max_digits=4, decimal_places=3)
    tax = models.DecimalField(_("tax"), **MONEY)
    total = models.DecimalField(_("total including tax"), **MONEY)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")

    def __str__(self):
        return self.item_name


class Contract(models.Model):
    """电子合同: the signed PDF of an order's contract, one per order."""

    order = models.OneToOneField(Order, models.PROTECT, related_name="contract", verbose_name=_("order"))
    number = models.CharField(_("contract number"), max_length=32, unique=True)
    seal_filing_number = models.CharField(_("e-seal filing number"), max_length=64)
    token = models.CharField(_("verification token"), max_length=64, unique=True, default=verification_token)
    buyer_name = models.CharField(_("customer"), max_length=128)
    seller_name = models.CharField(_("seller"), max_length=128)
    total = models.DecimalField(_("contract amount"), **MONEY)
    total_in_words = models.CharField(_("amount in words"), max_length=64)
    service_start = models.DateField(_("service start"), null=True, blank=True)
    service_end = models.DateField(_("service end"), null=True, blank=True)
    agreement_version = models.CharField(_("agreement version"), max_length=32)
    pdf = models.FileField(_("signed PDF"), storage=documents_storage)
    sha256 = models.CharField(_("SHA-256 of the PDF"), max_length=64)
    signer_fingerprint = models.CharField(_("signing certificate SHA-256"), max_length=64)
    signed_at = models.DateTimeField(_("signed at"))

    objects = PageVisibleManager()

    class Meta:
        ordering = ["-signed_at", "-id"]
        verbose_name = _("e-contract")
        verbose_name_plural = _("e-contracts")

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("invoicing:contract", args=[self.order.number])

    def get_verification_url(self):
        return reverse("invoicing:contract-verify", args=[self.token])

    @property
    def verification_url(self) -> str:
        return f"{settings.SITE_URL.rstrip('/')}{self.get_verification_url()}"
