from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from catalog.exceptions import ProductKeyError
from catalog.selectors import product_key_normalize, product_line_get_for_key

from .models import ProductKey, User


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
