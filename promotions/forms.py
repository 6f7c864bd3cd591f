from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Promotion


class PromotionForm(forms.ModelForm):
    """The schedule is typed in the promotion's own time zone (a sale "from 9:00 in Paris")."""

    class Meta:
        model = Promotion
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            zone = _zone(self.instance.time_zone)
            for name in ("starts_at", "ends_at"):
                value = getattr(self.instance, name)
                if value is not None and zone is not None:
                    self.initial[name] = timezone.localtime(value, zone).replace(tzinfo=None)

    def clean_time_zone(self):
        name = self.cleaned_data["time_zone"].strip()
        if _zone(name) is None:
            raise forms.ValidationError(_("Unknown time zone %(name)s: use a name such as Europe/Paris or "
                                          "America/New_York.") % {"name": name})
        return name

    def clean(self):
        cleaned = super().clean()
        zone = _zone(cleaned.get("time_zone") or "")
        if zone is not None:
            for name in ("starts_at", "ends_at"):
                value = cleaned.get(name)
                if value is not None:
                    # The field read the typed time in the site's zone; read it again in the promotion's.
                    typed = timezone.localtime(value).replace(tzinfo=None)
                    cleaned[name] = timezone.make_aware(typed, zone)
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end must come after the start."))
        reward = cleaned.get("reward")
        value = cleaned.get("value")
        percent = {Promotion.Reward.PERCENT_LINES, Promotion.Reward.PERCENT_ORDER, Promotion.Reward.BUY_X_GET_Y,
                   Promotion.Reward.SHIPPING}
        if reward in percent and value is not None and value > 100:
            self.add_error("value", _("A percentage is at most 100."))
        if reward == Promotion.Reward.BUY_X_GET_Y and not (cleaned.get("buy_quantity") and cleaned.get("get_quantity")):
            self.add_error("get_quantity", _("Buy X get Y needs both X and Y."))
        if reward == Promotion.Reward.FREE_GIFT and not cleaned.get("gift_variant"):
            self.add_error("gift_variant", _("Choose the gift."))
        return cleaned


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(name: str) -> ZoneInfo | None:
    if not name or name not in _zone_names():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class GenerateCodesForm(forms.Form):
    count = forms.IntegerField(label=_("How many codes"), min_value=1, max_value=100_000, initial=100)
    prefix = forms.CharField(label=_("Prefix"), max_length=12, required=False,
                             help_text=_("Letters and digits, e.g. SPRING (optional)."))
    length = forms.IntegerField(label=_("Random characters"), min_value=6, max_value=16, initial=10)


class DryRunForm(forms.Form):
    days = forms.IntegerField(label=_("Replay the last N days"), min_value=1, max_value=366, initial=30)
