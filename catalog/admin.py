from django.contrib import admin
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mall import pagecache

from .models import Module, Platform, ProductLine, Service


class ServiceCountMixin:
    """A "services" column counted in the changelist query itself, not once per row."""

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(service_count=Count("services"))

    @admin.display(description=_("services"), ordering="service_count")
    def service_count(self, obj):
        return obj.service_count


@admin.register(ProductLine)
class ProductLineAdmin(ServiceCountMixin, admin.ModelAdmin):
    list_display = ["name", "code", "key_pattern", "sort", "active", "service_count"]
    list_editable = ["sort", "active"]
    list_filter = ["active"]
    search_fields = ["name", "code"]


@admin.register(Platform)
class PlatformAdmin(ServiceCountMixin, admin.ModelAdmin):
    list_display = ["name", "code", "refundable", "sort", "active", "service_count"]
    list_editable = ["sort", "active"]
    list_filter = ["refundable", "active"]
    search_fields = ["name", "code"]


@admin.register(Module)
class ModuleAdmin(ServiceCountMixin, admin.ModelAdmin):
    list_display = ["name", "code", "sort", "active", "service_count"]
    list_editable = ["sort", "active"]
    list_filter = ["active"]
    search_fields = ["name", "code", "description"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "product_line",
        "platform",
        "module",
        "standard_price",
        "unit",
        "period_months",
        "platform_refundable",
        "featured",
        "active",
    ]
    list_filter = ["product_line", "platform", "module", "active", "featured", "platform__refundable"]
    list_select_related = ["product_line", "platform", "module"]
    search_fields = ["name", "product_line__name", "platform__name", "module__name"]
    actions = ["activate_selected", "deactivate_selected", "feature_selected", "unfeature_selected"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["product_line", "platform", "module", "name", "description"]}),
        (
            _("Price and terms"),
            {"fields": ["standard_price", "unit", "period_months", "refund_window_days", "tax_rate"]},
        ),
        (_("Visibility"), {"fields": ["active", "featured"]}),
        (_("History"), {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description=_("refundable platform"), boolean=True, ordering="platform__refundable")
    def platform_refundable(self, obj):
        return obj.platform.refundable

    @admin.action(permissions=["change"], description=_("Activate selected services"))
    def activate_selected(self, request, queryset):
        changed = self._set_flag(queryset, active=True)
        self.message_user(
            request,
            ngettext("%(count)d service was activated.", "%(count)d services were activated.", changed)
            % {"count": changed},
        )

    @admin.action(permissions=["change"], description=_("Deactivate selected services"))
    def deactivate_selected(self, request, queryset):
        changed = self._set_flag(queryset, active=False)
        self.message_user(
            request,
            ngettext("%(count)d service was deactivated.", "%(count)d services were deactivated.", changed)
            % {"count": changed},
        )

    @admin.action(permissions=["change"], description=_("Feature selected services on the home page"))
    def feature_selected(self, request, queryset):
        changed = self._set_flag(queryset, featured=True)
        self.message_user(
            request,
            ngettext("%(count)d service is now featured.", "%(count)d services are now featured.", changed)
            % {"count": changed},
        )

    @admin.action(permissions=["change"], description=_("Stop featuring selected services"))
    def unfeature_selected(self, request, queryset):
        changed = self._set_flag(queryset, featured=False)
        self.message_user(
            request,
            ngettext("%(count)d service is no longer featured.", "%(count)d services are no longer featured.", changed)
            % {"count": changed},
        )

    @staticmethod
    def _set_flag(queryset, **flag):
        """Set one boolean field; returns how many rows actually changed.

        Rows already in the wanted state are left out, so the count is honest and
        their updated_at stays put. update() skips auto_now, hence the explicit stamp.
        """
        [(field, value)] = flag.items()
        changed = queryset.exclude(**{field: value}).update(**{field: value}, updated_at=timezone.now())
        pagecache.shared_changed()  # update() sends no post_save: the cached pages must learn of it
        return changed
