"""退款: a customer's refund request and its way through finance.

The status changes only in refunds.services, under row locks on the order and the
request, and each change writes an OrderEvent on the order's timeline.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from mall.constraints import CheckConstraint
from mall.pagecache import PageVisibleManager
from orders.models import MONEY, Order

OPEN_STATUSES = ("pending", "approved")


class RefundRequest(ConcurrentTransitionMixin, models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Under review")
        APPROVED = "approved", _("Approved")
        COMPLETED = "completed", _("Refunded")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Reason(models.TextChoices):
        NOT_ACTIVATED = "not_activated", _("Service not activated")
        DUPLICATE = "duplicate", _("Bought twice")
        UNWANTED = "unwanted", _("No longer wanted")
        OTHER = "other", _("Other")

    order = models.ForeignKey(Order, models.PROTECT, related_name="refunds", verbose_name=_("order"))
    number = models.CharField(_("refund number"), max_length=32, unique=True)
    status = FSMField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING, protected=True)
    amount = models.DecimalField(_("refund amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    description = models.TextField(_("description"), blank=True)
    contact_mobile = models.CharField(_("contact mobile"), max_length=20)
    # Where the order goes back to when this refund is withdrawn, rejected or partial.
    order_status_before = models.CharField(_("order status before"), max_length=20, choices=Order.Status.choices)

    rejection_reason = models.TextField(_("rejection reason"), blank=True)
    reference = models.CharField(_("refund reference"), max_length=64, blank=True)
    refunded_on = models.DateField(_("refunded on"), null=True, blank=True)

    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("decided by")
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("completed by")
    )
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("refund request")
        verbose_name_plural = _("refund requests")
        constraints = [
            # One open refund per order, whatever the concurrency.
            models.UniqueConstraint(
                fields=["order"], condition=Q(status__in=OPEN_STATUSES), name="refunds_one_open_per_order"
            ),
            CheckConstraint(condition=Q(amount__gt=0), name="refunds_amount_positive"),
        ]
        indexes = [models.Index(fields=["status", "requested_at"], name="refunds_queue")]
        permissions = [
            ("review_refund", _("Can approve or reject refunds")),
            ("complete_refund", _("Can complete refunds")),
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("refunds:list") + f"#refund-{self.number}"

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @transition(field=status, source=Status.PENDING, target=Status.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=Status.PENDING, target=Status.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=Status.PENDING, target=Status.WITHDRAWN)
    def withdraw(self):
        pass

    @transition(field=status, source=Status.APPROVED, target=Status.COMPLETED)
    def complete(self):
        pass
