"""What a shopper is shown of a message's payload: product cards, a cart the agent built, a
discount code, a gift card, order and payment links, attachments and quick replies.

A payload is data the store's own code wrote (`actions.py`, the inbox, the assistant): texts, ids,
amounts as decimal strings with their currency. `for_shopper` turns one into what the shopper
sees, the same for both renderers: the launcher's script gets it as JSON (`selectors.message_data`,
the state, messages and stream endpoints) and builds elements with `textContent`; the plain pages
(the conversation page behind "Messages" and `/contact/`) pass it to one include per kind
(`templates/chat/payloads/`), which Django escapes. So:
- only the kinds a shopper may see come through (no `llm`, `unanswered`, `delivery_error`...);
- every amount is formatted with `shop.money.format_money`, in the payload's currency;
- every address is a path on this site or an http(s) link, never `javascript:` (dropped otherwise);
- it makes no query (a conversation's messages cost what they cost before).
A gift card's code is never in a payload (it exists only in the recipient's email), so it is never
here either.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.urls import reverse

from shop.money import currency_code, format_money

SHOWN = ("cards", "cart", "discount", "gift_card", "orders", "attachments", "quick_replies")


def safe_url(value) -> str:
    """`value` if it is a path on this site ("/p/lamp/", not "//evil.example") or an http(s) link, else ""."""
    if not isinstance(value, str) or any(c in value for c in "\r\n\t\\ "):
        return ""
    if value.startswith("/") and not value.startswith("//"):
        return value
    if value.lower().startswith(("https://", "http://")) and len(value) > 8:
        return value
    return ""


def _text(value, limit: int = 300) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _id(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _amount(value) -> Decimal | None:
    try:
        amount = Decimal(str(value)) if value is not None and value != "" else None
    except (InvalidOperation, ValueError):
        return None
    # Within what a money field holds (12 digits): anything else is not an amount the store wrote.
    return amount if amount is not None and amount.is_finite() and abs(amount) < 10 ** 10 else None


def _money(amount: Decimal | None, currency) -> str:
    if amount is None:
        return ""
    known = isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()
    return format_money(amount, currency if known else None)


def _items(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _card(card: dict) -> dict:
    product, variant = _id(card.get("product")), _id(card.get("variant"))
    shown = {"title": _text(card.get("title")), "url": safe_url(card.get("url")), "price": _text(card.get("price"), 40),
             "image": safe_url(card.get("image")), "in_stock": card.get("in_stock") is True}
    if not shown["in_stock"] and card.get("options_in_stock") is True:  # the chosen option is out, others are not
        shown["options_in_stock"] = True
    if product and variant and shown["in_stock"]:  # one variant: it can go to the cart from the chat
        shown.update(product=product, variant=variant)
    return shown


def _cart(cart: dict) -> dict:
    currency = cart.get("currency") or currency_code()
    lines, total = [], Decimal("0")
    for line in _items(cart.get("lines")):
        quantity = _id(line.get("quantity")) or 1
        unit = _amount(line.get("unit_price"))
        total = total + unit * quantity if unit is not None and total is not None else None
        lines.append({"title": _text(line.get("title")), "sku": _text(line.get("sku"), 64), "quantity": quantity,
                      "price": _money(unit, currency), "total": _money(unit * quantity if unit is not None else None,
                                                                     currency)})
    url = safe_url(cart.get("url"))
    # Put straight into their cart (a link to it), or a cart link whose button fills theirs (a POST).
    added = cart.get("added") is True or url == reverse("carts:detail")
    return {"lines": lines, "total": _money(total, currency) if lines else "", "url": url, "added": added}


def _discount(discount: dict) -> dict:
    return {"code": _text(discount.get("code"), 64), "promotion": _text(discount.get("promotion"), 120),
            "gives": _text(discount.get("gives")), "apply_url": reverse("promotions:code")}


def _gift_card(card: dict) -> dict:
    return {"amount": _money(_amount(card.get("amount")), card.get("currency"))}


def _order(order: dict) -> dict:
    return {"number": _text(order.get("number"), 32), "url": safe_url(order.get("url")),
            "status": _text(order.get("status"), 120),
            "total": _money(_amount(order.get("total")), order.get("currency")), "pay": order.get("pay") is True}


def _attachment(file: dict) -> dict | None:
    if _id(file.get("id")) is None:
        return None
    return {"id": file["id"], "name": _text(file.get("name"), 200), "kind": "image" if file.get("kind") == "image" else "pdf",
            "size": file.get("size") if _id(file.get("size")) else 0}


def for_shopper(payload: dict | None) -> dict:
    """The shopper's view of `payload` (see the module docstring): only what they may see, ready to show."""
    payload = payload if isinstance(payload, dict) else {}
    shown: dict = {}
    if cards := [_card(card) for card in _items(payload.get("cards"))]:
        shown["cards"] = cards
    if isinstance(payload.get("cart"), dict):
        shown["cart"] = _cart(payload["cart"])
    if isinstance(payload.get("discount"), dict) and _text(payload["discount"].get("code")):
        shown["discount"] = _discount(payload["discount"])
    if isinstance(payload.get("gift_card"), dict):
        shown["gift_card"] = _gift_card(payload["gift_card"])
    if orders := [_order(order) for order in _items(payload.get("orders"))]:
        shown["orders"] = orders
    if files := [f for f in (_attachment(file) for file in _items(payload.get("attachments"))) if f]:
        shown["attachments"] = files
    if replies := [{"label": _text(r.get("label"), 80), "action": _text(r.get("action"), 30),
                    "value": _text(r.get("value"), 60)} for r in _items(payload.get("quick_replies"))]:
        shown["quick_replies"] = replies
    for flag in ("ask_rating", "ask_email"):
        if payload.get(flag) is True:
            shown[flag] = True
    return shown


def _thumbnail(image) -> str:
    """A chat card is small: the catalog's thumbnail of the picture (its smallest rendition)."""
    from catalog.images import thumbnail_url

    return thumbnail_url(image.image.name, getattr(image, "renditions", None))


def product_card(product, *, variant_id: int | None = None, variant_available: int | None = None) -> dict:
    """The payload of a product card, staff's or the assistant's: `product` from
    `catalog.selectors.with_card_data` or `cards_in_order` (its first picture, cheapest price,
    stock). With `variant_id` (the one variant that fits) the card can go to the cart from the
    chat if that variant can be bought: `variant_available` units (the storefront's stock read,
    `catalog.selectors.stock_totals`; read here, one query, when not given). A chosen variant
    that cannot be bought makes the card "Out of stock", with `options_in_stock` when others can."""
    images = getattr(product, "ordered_images", None) or []
    card = {"title": product.title, "url": product.get_absolute_url(),
            "price": format_money(product.price) if product.price is not None else "",
            "in_stock": bool(product.in_stock), "image": _thumbnail(images[0]) if images else ""}
    if variant_id is not None:
        if variant_available is None:
            from catalog.selectors import stock_totals

            variant_available = stock_totals([variant_id]).get(variant_id, 0)
        if variant_available > 0:
            card.update(product=product.pk, variant=variant_id)
        else:
            card.update(in_stock=False, options_in_stock=bool(product.in_stock))
    return card


def product_cards(products, *, chosen: dict[int, int]) -> list[dict]:
    """`product_card` for each of `products`, with the variant `chosen` for it ({product id:
    variant id}) when there is one: their stock in one query whatever the number of cards."""
    from catalog.selectors import stock_totals

    available = stock_totals(list(chosen.values())) if chosen else {}
    return [product_card(product, variant_id=chosen.get(product.pk),
                         variant_available=available.get(chosen[product.pk], 0) if product.pk in chosen else None)
            for product in products]


def for_staff(payload: dict | None, *, gift_cards: dict | None = None) -> dict:
    """What the inbox shows of `payload`: the shopper's view (so staff see what the shopper was
    sent, with the same amounts and addresses) plus what only staff may see: a discount's
    promotion, a gift card's code as the store keeps it (masked, `GiftCard.display_code`: the
    whole code exists only in the recipient's email) and its page in the back office, and the
    draft order a payment link came from. `gift_cards` is {id: GiftCard} (`selectors.staff_messages`
    reads them in one query); no query here."""
    payload = payload if isinstance(payload, dict) else {}
    shown = for_shopper(payload)
    if "discount" in shown and _id(payload["discount"].get("promotion_id")):
        shown["discount"]["promotion_url"] = reverse("admin:promotions_promotion_change",
                                                     args=[payload["discount"]["promotion_id"]])
    if "gift_card" in shown:
        card = (gift_cards or {}).get(_id(payload["gift_card"].get("id")))
        if card is not None:
            shown["gift_card"].update(code=card.display_code, email=card.recipient_email,
                                      url=reverse("admin:giftcards_giftcard_change", args=[card.pk]))
    if draft := _id(payload.get("placed_draft")) or _id(payload.get("draft")):
        shown["draft"] = {"id": draft, "url": reverse("admin:stafforders_draftorder_change", args=[draft])}
    return shown


def gift_card_ids(payloads) -> set[int]:
    """The gift cards `payloads` name (to read them at once for `for_staff`)."""
    return {card_id for payload in payloads if isinstance(payload, dict) and isinstance(payload.get("gift_card"), dict)
            for card_id in [_id(payload["gift_card"].get("id"))] if card_id}
