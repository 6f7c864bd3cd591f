"""Admin pieces every app may share. Nothing is registered here: `shop` holds no models."""
from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record staff read but never add, edit or delete: rows written only by services
    (payments, webhook events, the email outbox, campaign messages, the audit log)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
