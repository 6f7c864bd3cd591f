"""Selling from the inbox: what an agent does for the shopper besides writing.

- Build a cart: products (by SKU and quantity) go straight into the cart the conversation knows
  (the customer's account cart, or the guest cart recorded when they last wrote), or into a signed
  link that puts them in whoever opens it's cart (`cart_link_url`, `/chat/cart/<token>/`).
- Send a discount code: one new single-use code of an active code promotion (promotions'
  own `generate_codes`, the same right as generating codes in the back office).
- Send a gift card: issued by giftcards' own `issue_gift_card` to the shopper's email address
  (the code exists only in that email; never in the chat or the database).

Each is one transaction: the action, the agent's message in the conversation (with what was done
in its payload) and, for a known customer, an entry on their CRM timeline; a refusal changes
nothing. Permission to answer the conversation is checked by the caller (the inbox); the money
rights are checked here: `promotions.change_promotion` for codes, `giftcards.add_giftcard` for
gift cards (Order managers), as in the back office.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Activity

from . import services
from .exceptions import ChatError
from .models import CartLink, Conversation, Message, cart_link_key

CART_LINK_SALT = "chat.cart-link"
CART_LINK_MAX_AGE = 14 * 24 * 3600
MAX_CART_LINES = 20
# "SKU", "SKU x 2", "SKU x2", "SKU × 2", "SKU 2"
LINE = re.compile(r"^\s*(?P<sku>\S+)(?:\s+(?:[×x*]\s*)?(?P<qty>\d+))?\s*$", re.I)


def can_send_discount(user) -> bool:
    return user.has_perm("chat.reply_conversation") and user.has_perm("promotions.change_promotion")


def can_send_gift_card(user) -> bool:
    return user.has_perm("chat.reply_conversation") and user.has_perm("giftcards.add_giftcard")


def _timeline(conversation: Conversation, message: str, **data) -> None:
    if conversation.customer_id:
        Activity.objects.create(customer_id=conversation.customer_id, kind=Activity.Kind.CHAT, message=message[:255],
                                data={"conversation": conversation.pk, **data})


# --- Carts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WantedLine:
    variant_id: int
    product_id: int
    quantity: int
    title: str
    sku: str
    unit_price: Decimal | None = None  # the variant's price when the agent built the cart


def parse_cart_lines(text: str) -> list[WantedLine]:
    """"SKU" or "SKU x 2", one per line -> lines of variants on sale. Raises ChatError naming the
    first line that is wrong (unknown or unavailable SKU, a quantity out of range)."""
    from catalog.models import Product, Variant

    rows = [row for row in (text or "").splitlines() if row.strip()]
    if not rows:
        raise ChatError(_("Give at least one SKU, one per line (\"SKU x 2\" for two)."))
    if len(rows) > MAX_CART_LINES:
        raise ChatError(_("At most %(n)d lines at a time.") % {"n": MAX_CART_LINES})
    parsed: dict[str, int] = {}
    for row in rows:
        found = LINE.match(row)
        if not found:
            raise ChatError(_("Cannot read the line “%(line)s”: write the SKU, then “x 2” for two.") % {"line": row.strip()})
        quantity = int(found["qty"] or 1)
        if not 1 <= quantity <= settings.CART_MAX_LINE_QUANTITY:
            raise ChatError(_("“%(line)s”: a quantity from 1 to %(max)d.") % {"line": row.strip(),
                                                                            "max": settings.CART_MAX_LINE_QUANTITY})
        sku = found["sku"].strip()
        parsed[sku] = parsed.get(sku, 0) + quantity
    variants = {v.sku: v for v in Variant.objects.select_related("product").filter(
        sku__in=list(parsed), is_active=True, product__in=Product.objects.published())}
    lines = []
    for sku, quantity in parsed.items():
        variant = variants.get(sku)
        if variant is None:
            raise ChatError(_("No product on sale has the SKU “%(sku)s”.") % {"sku": sku})
        lines.append(WantedLine(variant.pk, variant.product_id, quantity, variant.product.title, variant.sku,
                                variant.price))
    return lines


def _describe(lines: list[WantedLine]) -> str:
    return ", ".join(f"{line.quantity} × {line.title}" for line in lines)


def _cart_payload(url: str, lines: list[WantedLine], *, added: bool) -> dict:
    """What the shopper's card shows (`payloads.for_shopper`): the lines at the prices of the moment,
    and either their cart (`added`) or the link whose button fills it."""
    from shop.money import currency_code

    return {"cart": {"url": url, "added": added, "currency": currency_code(), "lines": [
        {"title": line.title, "sku": line.sku, "quantity": line.quantity,
         "unit_price": str(line.unit_price) if line.unit_price is not None else ""} for line in lines]}}


def add_to_shopper_cart(*, conversation: Conversation, author, lines: list[WantedLine]) -> Message:
    """Put `lines` in the cart this conversation knows: the customer's account cart (created if
    they have none), or the guest cart recorded when they last wrote. All lines or none: a line
    out of stock refuses the whole (ChatError with the cart's own message). Locks the cart row
    (carts.services.add_to_cart) inside one transaction with the message."""
    from carts.exceptions import CartError
    from carts.models import Cart
    from carts.selectors import CART_SESSION_KEY
    from carts.services import add_to_cart

    user = conversation.customer.user if conversation.customer_id and conversation.customer.user_id else None
    guest_cart = None
    if user is None:
        guest_cart = conversation.cart_id if conversation.cart_id and Cart.objects.filter(
            pk=conversation.cart_id, user__isnull=True).exists() else None
        if guest_cart is None:
            raise ChatError(_("This shopper has no cart the store can reach (a guest who has not added anything "
                              "yet, or signed in elsewhere). Send a cart link instead."))
    session = {CART_SESSION_KEY: guest_cart} if guest_cart else {}
    try:
        with transaction.atomic():
            for line in lines:
                added = add_to_cart(user=user, session=session, variant_id=line.variant_id,
                                    product_id=line.product_id, quantity=line.quantity)
                if guest_cart is not None and added.cart_id != guest_cart:  # merged away meanwhile
                    raise ChatError(_("The shopper's cart changed meanwhile. Send a cart link instead."))
            message = services.add_agent_message(
                conversation=conversation, author=author,
                body=_("I have put these in your cart: %(items)s.") % {"items": _describe(lines)},
                payload=_cart_payload(reverse("carts:detail"), lines, added=True),
            )
            _timeline(conversation, _("Agent added to the cart in chat: %(items)s") % {"items": _describe(lines)},
                      cart_lines=[[line.variant_id, line.quantity] for line in lines])
    except CartError as error:
        raise ChatError(error.message) from None
    return message


def cart_link_token(lines: list[WantedLine]) -> str:
    return signing.dumps([[line.variant_id, line.quantity] for line in lines], salt=CART_LINK_SALT, compress=True)


def read_cart_link(token: str) -> list[tuple[int, int]]:
    """The (variant id, quantity) pairs of a cart link. Raises signing.SignatureExpired after
    CART_LINK_MAX_AGE, signing.BadSignature when tampered with."""
    data = signing.loads(token, salt=CART_LINK_SALT, max_age=CART_LINK_MAX_AGE)
    if not isinstance(data, list) or len(data) > MAX_CART_LINES:
        raise signing.BadSignature("not a cart")
    pairs = []
    for item in data:
        if (not isinstance(item, list) or len(item) != 2 or not all(isinstance(v, int) for v in item)
                or not 1 <= item[1] <= settings.CART_MAX_LINE_QUANTITY):
            raise signing.BadSignature("not a cart")
        pairs.append((item[0], item[1]))
    return pairs


def send_cart_link(*, conversation: Conversation, author, lines: list[WantedLine]) -> Message:
    """Send the shopper a link that fills their cart with `lines` when they open it (and press
    the button on its page). Nothing is reserved: stock is checked when they add. The link gets its
    `CartLink` row in the same transaction, so an order it leads to finds this conversation."""
    from shop.site import absolute_url

    token = cart_link_token(lines)
    path = reverse("chat:cart-link", args=[token])
    with transaction.atomic():
        message = services.add_agent_message(
            conversation=conversation, author=author,
            body=_("I have made you a cart: %(items)s. Open it here: %(url)s") % {
                "items": _describe(lines), "url": absolute_url(path)},
            payload=_cart_payload(path, lines, added=False),
        )
        CartLink.objects.create(key=cart_link_key(token), conversation=conversation, message=message)
        _timeline(conversation, _("Agent sent a cart link in chat: %(items)s") % {"items": _describe(lines)},
                  cart_lines=[[line.variant_id, line.quantity] for line in lines])
    return message


# --- Discount codes and gift cards -------------------------------------------------------------


def code_promotions():
    """Promotions an agent may send a code of: active, with a code, not over."""
    from django.db.models import Q

    from promotions.models import Promotion

    now = timezone.now()
    return (Promotion.objects.filter(is_active=True, trigger=Promotion.Trigger.CODE, starts_at__lte=now)
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now)).order_by("name"))


def discount_gives(promotion) -> str:
    """What a code of `promotion` gives, in a few words for the shopper's card: "10% off your
    order, on orders of $50.00 or more", "Free shipping". A discount on items is said as the
    storefront's sale label says it (`promotions.labels.label_text`: "15% off on the items it
    covers"). No query."""
    from promotions import labels, offers
    from promotions.models import Promotion
    from shop.money import format_money

    R = Promotion.Reward
    if promotion.reward in labels.LABELLED:
        text = _("%(label)s on the items it covers") % {"label": labels.label_text(offers.to_offer(promotion, {}))}
    elif promotion.reward == R.PERCENT_ORDER:
        text = _("%(percent)s%% off your order") % {"percent": f"{promotion.value.normalize():f}"}
    elif promotion.reward == R.FIXED_ORDER:
        text = _("%(amount)s off your order") % {"amount": format_money(promotion.value)}
    elif promotion.reward == R.SHIPPING:
        text = _("Free shipping") if promotion.value >= 100 else _("%(percent)s%% off shipping") % {
            "percent": f"{promotion.value.normalize():f}"}
    else:
        text = _("A free gift")
    if promotion.min_subtotal:
        text = _("%(offer)s, on orders of %(amount)s or more") % {"offer": text,
                                                                 "amount": format_money(promotion.min_subtotal)}
    return text


def send_discount_code(*, conversation: Conversation, author, promotion_id) -> Message:
    """A new single-use code of promotion `promotion_id`, sent in the conversation. Needs
    `promotions.change_promotion` (PermissionDenied); ChatError for a promotion that is not an
    active code promotion."""
    from promotions.services import generate_codes

    if not can_send_discount(author):
        raise PermissionDenied
    promotion = code_promotions().filter(pk=promotion_id).first() if str(promotion_id).isdigit() else None
    if promotion is None:
        raise ChatError(_("Choose an active promotion that works with a code."))
    with transaction.atomic():
        batch = generate_codes(promotion=promotion, count=1, prefix="CHAT", user=author)
        code = batch.codes.get().code
        message = services.add_agent_message(
            conversation=conversation, author=author,
            body=_("Here is a discount code for you: %(code)s (%(name)s). Enter it at checkout.") % {
                "code": code, "name": promotion.name},
            payload={"discount": {"code": code, "promotion": promotion.name, "promotion_id": promotion.pk,
                                  "gives": discount_gives(promotion)}},
        )
        _timeline(conversation, _("Discount code %(code)s (%(name)s) sent in chat") % {"code": code, "name": promotion.name},
                  promotion=promotion.pk, code=code)
    return message


def gift_card_value(text: str) -> Decimal:
    """What staff typed as a card's value -> the amount: positive, at most two decimals, below the
    money fields' limit ("15,50" is 15.50). ChatError otherwise."""
    try:
        value = Decimal(str(text).strip().replace(",", "."))
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise ChatError(_("Give the card's value as a positive amount, like 20 or 15.50."))
    if value >= Decimal("10000000000"):
        raise ChatError(_("That value is too large."))
    return value


def send_gift_card(*, conversation: Conversation, author, amount: str, reason: str) -> Message:
    """Issue a goodwill gift card of `amount` to the shopper's email address (the conversation's,
    or their customer record's) and say so in the conversation. Needs `giftcards.add_giftcard`
    (PermissionDenied). ChatError for an amount that is not a positive sum, a missing reason or no
    email address. The card's code is made when the email is sent, so it is never in the chat."""
    from giftcards.services import issue_gift_card
    from shop.money import format_money

    if not can_send_gift_card(author):
        raise PermissionDenied
    value = gift_card_value(amount)
    if not reason.strip():
        raise ChatError(_("Say why the card is given (it is kept with the card)."))
    email = conversation.email or (conversation.customer.email if conversation.customer_id else "")
    if not email:
        raise ChatError(_("Ask for the shopper's email address first: the card's code is sent only by email."))
    name = (conversation.customer.first_name if conversation.customer_id else "") or conversation.name
    with transaction.atomic():
        card, _code = issue_gift_card(amount=value, user=author, recipient_email=email, recipient_name=name,
                                      reason=_("Chat goodwill: %(reason)s") % {"reason": reason.strip()[:200]})
        shown = format_money(card.initial_balance)
        message = services.add_agent_message(
            conversation=conversation, author=author,
            body=_("I have sent you a gift card of %(amount)s; it arrives at your email address in a moment.") % {
                "amount": shown},
            payload={"gift_card": {"id": card.pk, "amount": str(card.initial_balance), "currency": card.currency}},
        )
        _timeline(conversation, _("Gift card of %(amount)s sent in chat") % {"amount": shown}, gift_card=card.pk)
    return message


# --- A draft order with a payment link (stafforders) ---------------------------------------------


def can_start_draft_order(user) -> bool:
    return user.has_perm("chat.reply_conversation") and user.has_perm("stafforders.add_draftorder")


def start_draft_order(*, conversation: Conversation, author):
    """A new draft order (stafforders) for this conversation's customer, email and name, which
    remembers the conversation: once it is placed with a payment link, the link is posted here
    (`post_draft_payment_link`). Needs `stafforders.add_draftorder` (PermissionDenied). One
    transaction with an internal note in the conversation saying so."""
    from stafforders.models import DraftOrder

    if not can_start_draft_order(author):
        raise PermissionDenied
    customer = conversation.customer if conversation.customer_id else None
    with transaction.atomic():
        draft = DraftOrder.objects.create(
            customer=customer, email=(customer.email if customer else "") or conversation.email,
            customer_name=((customer.full_name if customer else "") or conversation.name)[:200],
            note=_("From chat conversation %(id)s") % {"id": conversation.pk}, conversation=conversation,
            created_by=author,
        )
        services.add_agent_message(conversation=conversation, author=author, is_note=True,
                                   body=_("Draft order #%(id)d started; placed with a payment link, the link is "
                                          "posted here.") % {"id": draft.pk},
                                   payload={"draft": draft.pk})
    return draft


def post_draft_payment_link(*, draft_id: int) -> Message | None:
    """Post the payment link of draft `draft_id`'s order in the conversation it was started from:
    an order card with "Pay now" while unpaid (the order page behind the signed link offers the
    payment), as the staff member who placed it. Called after the placement committed
    (`signals.py`); idempotent (a second call finds the message and posts nothing). Does nothing
    for a draft without a conversation, not placed, or placed without a payment link. A channel
    that refuses the message (WhatsApp or Messenger after 24 hours) gets an internal note instead."""
    from stafforders.models import DraftOrder

    from .assistant import order_card
    from .exceptions import ChatError

    draft = (DraftOrder.objects.select_related("order", "conversation", "placed_by")
             .filter(pk=draft_id, status=DraftOrder.Status.PLACED, payment=DraftOrder.Payment.LINK,
                     conversation__isnull=False, order__isnull=False).first())
    if draft is None:
        return None
    conversation, order = draft.conversation, draft.order
    with transaction.atomic():
        Conversation.objects.select_for_update().filter(pk=conversation.pk).first()  # one post per draft
        if conversation.messages.filter(payload__placed_draft=draft.pk).exists():
            return None
        body = _("Your order %(number)s is ready: you can pay for it here.") % {"number": order.number}
        payload = {"orders": [order_card(order, signed=True)], "placed_draft": draft.pk}
        try:
            message = services.add_agent_message(conversation=conversation, author=draft.placed_by, body=body,
                                                 payload=payload)
        except ChatError as error:
            return services.add_agent_message(
                conversation=conversation, author=draft.placed_by, is_note=True, payload={"placed_draft": draft.pk},
                body=_("Order %(number)s (draft #%(id)d) was placed, but its payment link could not be posted "
                       "here: %(error)s") % {"number": order.number, "id": draft.pk, "error": error})
        _timeline(conversation, _("Payment link for order %(number)s sent in chat") % {"number": order.number},
                  order=order.pk, draft=draft.pk)
    return message
