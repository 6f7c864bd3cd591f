"""Abstract model pieces every app may share. No concrete models live here (`shop` holds no data)."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStamped(models.Model):
    """`created_at` and `updated_at`, kept by the database layer on every save."""

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True
