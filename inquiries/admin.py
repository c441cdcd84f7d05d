"""咨询管理 in the admin: the staff queue of open inquiries (waiting for an answer), the
longest-waiting first. Rows are read-only for everyone, superusers included; answering
is a page of its own calling inquiries.services.inquiry_answer, for staff with
answer_inquiry."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Case, Value, When
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from mall.admin_moves import (
    ALREADY,
    DONE,
    Move,
    MoveAdminMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    admin_url,
    status_column,
)
from orders.templatetags.order_admin import waiting_time

from . import selectors, services
from .exceptions import InquiryError
from .forms import InquiryAnswerForm
from .models import Inquiry, InquiryMessage


class InquiryStatusFilter(admin.SimpleListFilter):
    """By status; with no choice made, the queue: the inquiries waiting for an answer."""

    title = _("status")
    parameter_name = "status"
    default = Inquiry.Status.OPEN

    def lookups(self, request, model_admin):
        return [*Inquiry.Status.choices, ("all", _("All"))]

    def choices(self, changelist):
        current = self.value() or self.default
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or self.default
        return queryset if value == "all" else queryset.filter(status=value)


class InquiryMessageInline(ReadOnlyInline):
    model = InquiryMessage
    fields = ["created_at", "side", "author", "body"]
    readonly_fields = fields
    verbose_name_plural = _("thread")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    @admin.display(description=_("from"))
    def side(self, message):
        return _("staff") if message.from_staff else _("customer")


class AnswerInquiry(Move):
    """回复: the answer goes into the thread and the customer is told. A resent form (the
    same answer after the same last message) changes nothing. No state machine: the
    service refuses a closed inquiry, or a thread that changed meanwhile."""

    name = "answer"
    label = _("Answer")
    permission = "answer"
    object_name = "inquiry"
    template = "admin/inquiries/inquiry/answer.html"
    title = _("Answer “%(subject)s”")
    form_class = InquiryAnswerForm
    message_errors = (InquiryError,)
    form_errors = (ValidationError,)
    done = _("Your answer was sent; the customer is told.")
    already = _("This answer was already sent: nothing changed.")

    def allows(self, inquiry) -> bool:
        return True

    def get_form_kwargs(self, request, inquiry) -> dict:
        return {"initial": {"after": last_message_id(inquiry)}}

    def call(self, request, inquiry, data):
        return services.inquiry_answer(inquiry=inquiry, actor=request.user, body=data["body"], after=data["after"])

    def outcome(self, request, result) -> str:
        _inquiry, added = result
        return DONE if added else ALREADY

    def moved(self, result):
        return result[0]

    def params(self, inquiry) -> dict:
        return {"subject": inquiry.subject}

    def extra_context(self, request, inquiry, form) -> dict:
        return {"thread": selectors.inquiry_messages(inquiry=inquiry).select_related("author")}


def last_message_id(inquiry) -> int | None:
    """The thread's last message the answer form is written after (a resent form is then
    recognised)."""
    return selectors.inquiry_messages(inquiry=inquiry).values_list("pk", flat=True).last()


@admin.register(Inquiry)
class InquiryAdmin(MoveAdminMixin, ReadOnlyAdmin):
    list_display = ["subject", "customer_label", "about", "status_label", "asked", "answered_at"]
    list_display_links = ["subject"]
    list_select_related = ["customer", "service", "order"]
    list_filter = [InquiryStatusFilter]
    search_fields = ["subject", "order__number", "customer__username", "customer__real_name", "customer__company"]
    search_help_text = _("Subject, main order number, or the customer's username, name or company.")
    # The queue's longest-waiting question first; closed and answered ones after, latest first.
    ordering = [
        Case(When(status=Inquiry.Status.OPEN, then=Value(0)), default=Value(1)).asc(),
        Case(When(status=Inquiry.Status.OPEN, then="last_customer_message_at")).asc(),
        "-last_customer_message_at",
        "-id",
    ]
    fields = ["subject", "customer_name", "about", "status_label", "created_at", "last_customer_message_at", "answered_at"]
    readonly_fields = fields
    inlines = [InquiryMessageInline]
    moves = [AnswerInquiry()]
    change_form_template = "admin/inquiries/inquiry/change_form.html"
    change_list_template = "admin/inquiries/inquiry/change_list.html"

    def has_answer_permission(self, request):
        return request.user.has_perm("inquiries.answer_inquiry")

    @admin.display(description=_("customer"), ordering="customer__username")
    def customer_label(self, inquiry):
        customer = inquiry.customer
        name = customer.real_name or customer.username
        return format_html('{}<br><span class="quiet">{}</span>', name, customer.company) if customer.company else name

    # Text, not a link to the user's account, which reviewers and finance may not open.
    @admin.display(description=_("customer"))
    def customer_name(self, inquiry):
        customer = inquiry.customer
        parts = [f"{customer.real_name or customer.username} ({customer.username})", customer.company, customer.email]
        return " · ".join(part for part in parts if part)

    @admin.display(description=_("about"))
    def about(self, inquiry):
        parts = []
        if inquiry.order_id:
            parts.append(format_html('<span data-order="{}">{}</span>', inquiry.order.number, inquiry.order.number))
        if inquiry.service_id:
            parts.append(inquiry.service.name)
        return format_html_join(" · ", "{}", ((part,) for part in parts)) if parts else "—"

    status_label = status_column("inquiry-status")

    @admin.display(description=_("last question at / waiting"), ordering="last_customer_message_at")
    def asked(self, inquiry):
        local = f"{timezone.localtime(inquiry.last_customer_message_at):%Y-%m-%d %H:%M}"
        if inquiry.status != Inquiry.Status.OPEN:
            return local
        return format_html(
            '{}<br><span class="inquiry-age" data-age>{}</span>', local, waiting_time(inquiry.last_customer_message_at)
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The answer form sits under the thread on the change page too, for staff who may answer.
        inquiry = self.get_object(request, unquote(object_id))
        if inquiry is not None and self.has_answer_permission(request) and inquiry.status != Inquiry.Status.CLOSED:
            extra_context = {
                **(extra_context or {}),
                "answer_form": InquiryAnswerForm(initial={"after": last_message_id(inquiry)}),
                "answer_url": admin_url(self, "answer", inquiry.pk),
            }
        return super().change_view(request, object_id, form_url, extra_context)
