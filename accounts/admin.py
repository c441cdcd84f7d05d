from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from catalog.exceptions import ProductKeyError
from catalog.selectors import product_key_normalize, product_line_get_for_key

from . import services
from .models import Address, InvoiceProfile, Message, ProductKey, User


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
