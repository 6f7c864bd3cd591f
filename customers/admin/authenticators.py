"""Staff members' authenticator apps (allauth.mfa): read and removed here, never edited.

allauth registers an admin that shows the app's secret (its `data`) in an editable box and
cannot save an app never used yet (`last_used_at` is required by the form). Here a superuser
sees whose app it is and when it was last used, and removes it when a phone is lost: the
staff member sets up a new app at their next sign-in. Apps are added only by their owner, on
the account's two-factor page.
"""
from allauth.mfa.models import Authenticator
from django.contrib import admin


class AuthenticatorAdmin(admin.ModelAdmin):
    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type", "created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email")
    fields = readonly_fields = ("user", "type", "created_at", "last_used_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


if admin.site.is_registered(Authenticator):
    admin.site.unregister(Authenticator)
admin.site.register(Authenticator, AuthenticatorAdmin)
