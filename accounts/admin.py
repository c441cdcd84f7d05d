from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Value, When
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from catalog.exceptions import ProductKeyError
from catalog.selectors import product_key_normalize, product_line_get_for_key
from orders.templatetags.order_admin import waiting_time

from . import inquiries, services
from .forms_inquiries import InquiryAnswerForm
from .inquiries import InquiryError
from .models import Address, Inquiry, InquiryMessage, InvoiceProfile, Message, ProductKey, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("Personal info"), {"fields": ["real_name", "email", "mobile", "company", "first_name", "last_name"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "usable_password", "password1", "password2"]}),
        (_("Personal info"), {"classes": ["wide"], "fields": ["real_name", "email", "mobile", "company"]}),
    ]
    list_display = ["username", "real_name", "email", "mobile", "company", "is_staff", "is_active"]
    search_fields = ["username", "email", "real_name", "company", "mobile"]


class ProductKeyAdminForm(forms.ModelForm):
    """The product line is never typed in: it is the line whose pattern the key
    matches, resolved by the same selector the customer's form uses."""

    class Meta:
        model = ProductKey
        fields = ["user", "key", "label"]

    def clean_key(self):
        key = product_key_normalize(self.cleaned_data["key"])
        try:
            self.instance.product_line = product_line_get_for_key(key=key)
        except ProductKeyError as error:
            raise ValidationError(error.message) from None
        return key


@admin.register(ProductKey)
class ProductKeyAdmin(admin.ModelAdmin):
    form = ProductKeyAdminForm
    list_display = ["key", "user", "product_line", "label", "created_at"]
    list_filter = ["product_line"]
    list_select_related = ["user", "product_line"]
    search_fields = ["key", "label", "user__username", "user__email", "user__company"]
    raw_id_fields = ["user"]
    readonly_fields = ["product_line", "created_at"]


class ReadMostlyAdmin(admin.ModelAdmin):
    """Customers keep these themselves; staff look them up. No adding or editing here,
    so the rules of the customer's forms (one default, checked codes) always hold."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(InvoiceProfile)
class InvoiceProfileAdmin(ReadMostlyAdmin):
    list_display = ["title", "user", "kind", "title_type", "taxpayer_id", "is_default", "updated_at"]
    list_filter = ["kind", "title_type", "is_default"]
    list_select_related = ["user"]
    search_fields = ["title", "taxpayer_id", "contact", "contact_phone", "user__username", "user__email"]
    date_hierarchy = "created_at"

    def delete_model(self, request, obj):
        services.invoice_profile_delete(profile=obj)

    def delete_queryset(self, request, queryset):
        for profile in queryset:
            services.invoice_profile_delete(profile=profile)


@admin.register(Address)
class AddressAdmin(ReadMostlyAdmin):
    list_display = ["recipient", "user", "mobile", "region", "detail", "postal_code", "is_default", "updated_at"]
    list_filter = ["is_default"]
    list_select_related = ["user"]
    search_fields = ["recipient", "mobile", "region", "detail", "user__username", "user__email"]

    def delete_model(self, request, obj):
        services.address_delete(address=obj)

    def delete_queryset(self, request, queryset):
        for address in queryset:
            services.address_delete(address=address)


@admin.register(Message)
class MessageAdmin(ReadMostlyAdmin):
    list_display = ["title", "user", "created_at", "read_at"]
    list_filter = [("read_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["title", "body", "user__username", "user__email"]
    date_hierarchy = "created_at"


# --- Inquiries (咨询管理) -----------------------------------------------------------------
#
# The staff queue: open inquiries (waiting for an answer), the longest-waiting first. Rows
# are read-only for everyone, superusers included; answering is a page of its own calling
# accounts.inquiries.inquiry_answer, for staff with answer_inquiry.


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
    change_form_template = "admin/accounts/inquiry/change_form.html"
    change_list_template = "admin/accounts/inquiry/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_answer_permission(self, request):
        return request.user.has_perm("accounts.answer_inquiry")

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
                    _inquiry, added = inquiries.inquiry_answer(
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
            "thread": inquiries.inquiry_messages(inquiry=inquiry).select_related("author"),
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/accounts/inquiry/answer.html", context)

    def _answer_form(self, inquiry):
        last = inquiries.inquiry_messages(inquiry=inquiry).values_list("pk", flat=True).last()
        return InquiryAnswerForm(initial={"after": last})

    def _url(self, name, *args):
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)
