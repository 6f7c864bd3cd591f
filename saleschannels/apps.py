from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesChannelsConfig(AppConfig):
    name = "saleschannels"
    verbose_name = _("Sales channels")
