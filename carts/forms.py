"""Cart input. Only ids and a quantity are read; anything else posted (a price, say) is ignored."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _


def _quantity_field() -> forms.IntegerField:
    limit = settings.CART_MAX_LINE_QUANTITY
    return forms.IntegerField(
        label=_("Quantity"),
        min_value=1,
        max_value=limit,
        error_messages={
            "required": _("Enter a quantity."),
            "invalid": _("Enter the quantity as a whole number, such as 1 or 2."),
            "min_value": _("Enter a quantity of at least 1 (to take an item out, remove it)."),
            "max_value": _("You can have at most %(limit_value)s of one item in your cart."),
        },
    )


class AddToCartForm(forms.Form):
    variant = forms.IntegerField(
        min_value=1, error_messages={"required": _("Choose the options you want first."),
                                     "invalid": _("Sorry, this item is not available."),
                                     "min_value": _("Sorry, this item is not available.")},
    )
    # The product page sends its product too: a variant of another product is refused.
    product = forms.IntegerField(
        required=False, min_value=1,
        error_messages={"invalid": _("Sorry, this item is not available."),
                        "min_value": _("Sorry, this item is not available.")},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quantity"] = _quantity_field()


class QuantityForm(forms.Form):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quantity"] = _quantity_field()


def first_error(form: forms.Form) -> str:
    """The one message a shopper needs: forms here have at most one thing wrong that matters."""
    for field_name in ("variant", "product", "quantity"):
        if field_name in form.errors:
            return form.errors[field_name][0]
    return next(iter(form.errors.values()))[0]


def safe_next(url: str | None, *, request) -> str | None:
    """`url` if it points back into this store, else None (never an open redirect)."""
    allowed = {request.get_host()}
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts=allowed, require_https=request.is_secure()):
        return url
    return None
