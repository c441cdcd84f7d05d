"""咨询管理: a customer's questions and the staff answers, as threads."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from mall.pagecache import PageVisibleManager


class Inquiry(models.Model):
    """咨询: a customer's question about a service or an order, answered by staff in the
    admin; the thread is its InquiryMessages."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for an answer")
        ANSWERED = "answered", _("Answered")
        CLOSED = "closed", _("Closed")

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="inquiries", verbose_name=_("customer"))
    subject = models.CharField(_("subject"), max_length=120)
    service = models.ForeignKey(
        "catalog.Service", models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("service")
    )
    order = models.ForeignKey(
        "orders.Order", models.SET_NULL, null=True, blank=True, related_name="inquiries", verbose_name=_("order")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("asked at"), auto_now_add=True)
    last_customer_message_at = models.DateTimeField(_("last question at"))
    answered_at = models.DateTimeField(_("last answered at"), null=True, blank=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("inquiry")
        verbose_name_plural = _("inquiries")
        indexes = [models.Index(fields=["status", "last_customer_message_at"], name="accounts_inquiry_queue")]
        permissions = [("answer_inquiry", _("Can answer inquiries"))]
        # Made in the accounts app (accounts.0008) and moved here without touching the data.
        db_table = "accounts_inquiry"

    def __str__(self):
        return self.subject

    def get_absolute_url(self):
        return reverse("inquiries:detail", args=[self.pk])


class InquiryMessage(models.Model):
    """One message of an inquiry's thread: the customer's or a staff member's."""

    inquiry = models.ForeignKey(Inquiry, models.CASCADE, related_name="messages", verbose_name=_("inquiry"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+", verbose_name=_("author"))
    from_staff = models.BooleanField(_("from staff"), default=False)
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    objects = PageVisibleManager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("inquiry message")
        verbose_name_plural = _("inquiry messages")
        db_table = "accounts_inquirymessage"

    def __str__(self):
        return f"{self.inquiry_id} {self.created_at:%Y-%m-%d %H:%M}"
