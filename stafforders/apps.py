from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffOrdersConfig(AppConfig):
    name = "stafforders"
    verbose_name = _("Orders taken by staff")
