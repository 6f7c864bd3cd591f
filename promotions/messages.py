"""What a shopper is told when a code does not apply: specific, with what to do about it."""
from __future__ import annotations

from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from shop.money import format_money

from .engine import Refusal


def refusal_message(refusal: Refusal, *, code: str = "") -> str:
    p = refusal.params
    label = code or refusal.name
    reason = refusal.reason
    if reason == "min_subtotal":
        return _("The code %(code)s needs a subtotal of %(needed)s; add %(missing)s more.") % {
            "code": label, "needed": format_money(p["needed"]), "missing": format_money(p["missing"])}
    if reason == "min_quantity":
        return _("The code %(code)s needs %(needed)d matching items; add %(missing)d more.") % {
            "code": label, "needed": p["needed"], "missing": p["missing"]}
    if reason == "bxgy_quantity":
        return _("%(code)s applies to every %(needed)d matching items; add %(missing)d more.") % {
            "code": label, "needed": p["needed"], "missing": p["missing"]}
    if reason == "sale_items":
        return _("The code %(code)s is not for items on sale.") % {"code": label}
    if reason == "no_items":
        return _("The code %(code)s does not apply to any item in your cart.") % {"code": label}
    if reason == "expired":
        return _("The code %(code)s has expired.") % {"code": label}
    if reason == "not_started":
        return _("The code %(code)s can be used from %(when)s.") % {
            "code": label, "when": date_format(localtime(p["starts_at"]), "DATETIME_FORMAT")}
    if reason == "used_up":
        return _("The code %(code)s has been used up.") % {"code": label}
    if reason == "already_used":
        return _("You have already used the code %(code)s.") % {"code": label}
    if reason == "signed_in":
        return _("The code %(code)s is for signed-in customers: sign in to use it.") % {"code": label}
    if reason == "first_order":
        return _("The code %(code)s is for a first order only.") % {"code": label}
    if reason == "segment":
        return _("The code %(code)s is not available for your account.") % {"code": label}
    if reason == "country":
        countries = ", ".join(p["countries"])
        if not p.get("known"):
            return _("The code %(code)s applies to deliveries to %(countries)s; it is checked at checkout.") % {
                "code": label, "countries": countries}
        return _("The code %(code)s applies only to deliveries to %(countries)s.") % {"code": label, "countries": countries}
    if reason == "combination":
        return _("The code %(code)s cannot be combined with %(other)s.") % {"code": label, "other": p["other"]}
    if reason == "gift_missing":
        return _("Add the free gift to your cart to get %(code)s.") % {"code": label}
    if reason == "no_shipping":
        return _("The code %(code)s takes off shipping: choose a delivery at checkout to see it.") % {"code": label}
    return _("The code %(code)s gives no discount on this cart.") % {"code": label}
