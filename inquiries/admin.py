"""咨询管理 in the admin: the staff queue of open inquiries (waiting for an answer), the
longest-waiting first. Rows are read-only for everyone, superusers included; answering
is a page of its own calling inquiries.services.inquiry_answer, for staff with
answer_inquiry."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Value, When
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

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


class InquiryMessageInline(admin.TabularInline):
    model = InquiryMessage
    fields = ["created_at", "side", "author", "body"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("thread")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    @admin.display(description=_("from"))
    def side(self, message):
        return _("staff") if message.from_staff else _("customer")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Inquiry)
class InquiryAdmin(admin.ModelAdmin):
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
    view_on_site = False  # the customer's thread is a 404 for staff
    change_form_template = "admin/inquiries/inquiry/change_form.html"
    change_list_template = "admin/inquiries/inquiry/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

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

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, inquiry):
        return format_html(
            '<span class="inquiry-status inquiry-status--{}" data-status="{}">{}</span>',
            inquiry.status,
            inquiry.status,
            inquiry.get_status_display(),
        )

    @admin.display(description=_("last question at / waiting"), ordering="last_customer_message_at")
    def asked(self, inquiry):
        local = f"{timezone.localtime(inquiry.last_customer_message_at):%Y-%m-%d %H:%M}"
        if inquiry.status != Inquiry.Status.OPEN:
            return local
        return format_html(
            '{}<br><span class="inquiry-age" data-age>{}</span>', local, waiting_time(inquiry.last_customer_message_at)
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        inquiry = self.get_object(request, unquote(object_id))
        if inquiry is not None and self.has_answer_permission(request) and inquiry.status != Inquiry.Status.CLOSED:
            extra_context = {
                **(extra_context or {}),
                "answer_form": self._answer_form(inquiry),
                "answer_url": self._url("answer", inquiry.pk),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/answer/", self.admin_site.admin_view(self.answer_view), name="%s_%s_answer" % info),
            *super().get_urls(),
        ]

    def answer_view(self, request, object_id):
        """回复: the answer goes into the thread and the customer is told. A resent form
        (the same answer after the same last message) changes nothing."""
        if not self.has_answer_permission(request):
            raise PermissionDenied
        inquiry = self.get_object(request, unquote(object_id))
        if inquiry is None:
            raise Http404
        change_url = self._url("change", inquiry.pk)
        if request.method == "POST":
            form = InquiryAnswerForm(request.POST)
            if form.is_valid():
                try:
                    _inquiry, added = services.inquiry_answer(
                        inquiry=inquiry, actor=request.user, body=form.cleaned_data["body"], after=form.cleaned_data["after"]
                    )
                except InquiryError as error:
                    self.message_user(request, error.message, messages.ERROR)
                    return HttpResponseRedirect(change_url)
                except ValidationError as error:
                    for field, texts in error.message_dict.items():
                        form.add_error(field if field in form.fields else None, texts)
                else:
                    if added:
                        self.message_user(request, _("Your answer was sent; the customer is told."), messages.SUCCESS)
                    else:
                        self.message_user(request, _("This answer was already sent: nothing changed."), messages.INFO)
                    return HttpResponseRedirect(change_url)
        else:
            form = self._answer_form(inquiry)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Answer “%(subject)s”") % {"subject": inquiry.subject},
            "inquiry": inquiry,
            "thread": selectors.inquiry_messages(inquiry=inquiry).select_related("author"),
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/inquiries/inquiry/answer.html", context)

    def _answer_form(self, inquiry):
        last = selectors.inquiry_messages(inquiry=inquiry).values_list("pk", flat=True).last()
        return InquiryAnswerForm(initial={"after": last})

    def _url(self, name, *args):
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)
