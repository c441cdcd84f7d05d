from django.contrib import admin

from .models import Agreement


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    """Agreements are versioned: orders record the version accepted, so a published
    version's text is read-only; publish a new version to change the terms."""

    list_display = ["version", "title", "published_at", "created_at"]
    search_fields = ["version", "title"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.published_at is not None:
            return ["version", "title", "body", "published_at", "created_at"]
        return ["created_at"]
