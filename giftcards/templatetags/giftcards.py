from django import template

from .. import selectors

register = template.Library()


@register.inclusion_tag("giftcards/_instruments.html")
def order_instruments(order):
    """How `order` was paid, instrument by instrument, on its page. One query."""
    return {"instruments": selectors.order_instruments(order=order)}


@register.inclusion_tag("emails/_order_instruments.html")
def email_order_instruments(order, text=False):
    """The same for the order emails: HTML with inline styles (mail clients need them), or `text`."""
    return {"instruments": selectors.order_instruments(order=order), "text": text}


@register.inclusion_tag("giftcards/_checkout_box.html", takes_context=True)
def checkout_gift_cards(context, total, lines=()):
    """The review page's gift card box: the cards entered, what each pays, what is left, the
    code form; and who gets the gift cards being bought, when the cart has any."""
    from .. import forms

    request = context["request"]
    applied = selectors.checkout_cards(session=request.session, total=total)
    product_ids = selectors.gift_card_product_ids()
    buying = bool(product_ids) and any(line.item.variant.product_id in product_ids for line in lines)
    recipient = request.session.get(selectors.RECIPIENT_SESSION_KEY) or {}
    return {
        "request": request, "csrf_token": context.get("csrf_token"), "applied": applied,
        "form": forms.ApplyCodeForm(), "buying": buying,
        "recipient_form": forms.RecipientForm(initial=recipient or {"email": context.get("details").email
                                                                    if context.get("details") else ""}),
        "recipient": recipient,
    }
