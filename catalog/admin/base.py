"""Behaviour shared by the catalog's model admins."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect

from ..exceptions import CatalogError


class CatalogErrorsAsMessages:
    """A service refusing a save (stock reserved meanwhile) shows a message, not an error page.

    The exception leaves the admin's transaction, so everything the save did is rolled back.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except CatalogError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
