"""Checkout: shipping quotes, tax, the review's totals, and turning the cart into an order.

Every amount here is computed on the server from the catalog (through `carts.selectors`) and the
shipping and tax rules staff set in the admin; the browser only names a shipping option. The
order itself is written by `orders.services.place_order`, which prices, taxes and reserves again
under lock: these functions show the shopper the same numbers it will charge.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone
from django.utils.translation import gettext as _

from carts.selectors import CartContents, CartItem, cart_contents
from carts.services import remove_ordered_lines
from catalog.models import Location, Variant
from catalog.selectors import category_tree
from orders.models import Order
from orders.services import PlacementLine, ShippingChoice, place_order
# The order's own rounding of tax: the review must show exactly what the order charges.
from orders.services.placement import priced_line
from promotions.selectors import Pricing, Shopper, price_lines, session_code
from promotions.services import discounter_for
from shop.money import quantize

from . import selectors
from .exceptions import CartNotReady, CheckoutError, EmptyCart, ShippingUnavailable
from .models import ShippingMethod

PICKUP = "pickup"
DELIVERY = "delivery"
# Nothing to ship: a cart of digital products only (gift cards, emailed). Its one "option" is
# also its key: no address, no method, no price.
DIGITAL = "digital"


# --- Shipping -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippingOption:
    """One way to get the order, priced for this cart. `key` is all the form sends back."""

    key: str  # "method:<id>", "pickup:<location id>" or "digital"
    kind: str  # DELIVERY, PICKUP or DIGITAL
    name: str
    price: Decimal
    method_id: int | None = None
    location: Location | None = None
    free_by_threshold: bool = False  # free because the subtotal reached the method's threshold

    def choice(self) -> ShippingChoice:
        """What `place_order` needs: a pick-up reserves at that shop only; delivery anywhere (a
        digital order reserves nothing: its lines are not stocked)."""
        if self.kind == PICKUP:
            return ShippingChoice(
                name=self.name, price=self.price, pickup_location_id=self.location.pk, location_ids=[self.location.pk]
            )
        return ShippingChoice(name=self.name, price=self.price)


def digital_option() -> ShippingOption:
    return ShippingOption(key=DIGITAL, kind=DIGITAL, name=_("Emailed, no shipping"), price=quantize(Decimal(0)))


def quote_method(*, method: ShippingMethod, subtotal: Decimal, weight: Decimal) -> Decimal | None:
    """What `method` charges for an order of `subtotal` and `weight` kg; None if it cannot carry it.

    Free when the method has a threshold and the subtotal reaches it. Band methods take the first
    band (bands must be prefetched, ordered by `up_to`) whose limit the order does not exceed;
    above the last band, or with no bands, the method does not apply. No query when the bands
    are prefetched (`selectors.methods_for_country`).
    """
    if method.free_above is not None and subtotal >= method.free_above:
        return quantize(Decimal(0))
    if method.kind == ShippingMethod.Kind.FLAT:
        return quantize(method.price)
    measure = weight if method.kind == ShippingMethod.Kind.WEIGHT else subtotal
    for band in method.bands.all():
        if measure <= band.up_to:
            return quantize(band.price)
    return None


def shipping_options(
    *, cart: CartContents, country: str, pickup: selectors.PickupAvailability | None = None
) -> list[ShippingOption]:
    """Every way this cart can reach `country`, delivery methods first, then pick-up shops.

    A cart of digital products only (gift cards) has one way, `digital_option()`, and no query.
    Only the shipped lines count for a method's price, bands and free threshold: a gift card in
    the cart never makes shipping dearer, nor free. Delivery: the active methods of the zone listing the country (`selectors.methods_for_country`)
    that can carry the cart's weight and subtotal, priced by `quote_method`. Pick-up: every active
    shop allowing it that holds everything in the cart now (click and collect costs nothing).
    Four queries (two when the caller passes the `pickup` it already read); none grows with the
    number of lines.
    """
    if cart.digital_only:
        return [digital_option()]
    options = []
    subtotal = cart.shippable_subtotal
    for method in selectors.methods_for_country(country=country):
        price = quote_method(method=method, subtotal=subtotal, weight=cart.total_weight)
        if price is None:
            continue
        options.append(ShippingOption(
            key=f"method:{method.pk}", kind=DELIVERY, name=method.name, price=price, method_id=method.pk,
            free_by_threshold=method.free_above is not None and subtotal >= method.free_above,
        ))
    if pickup is None:
        pickup = selectors.pickup_availability(cart=cart)
    return options + pickup_options(availability=pickup)


def pickup_options(*, availability: selectors.PickupAvailability) -> list[ShippingOption]:
    return [
        ShippingOption(
            key=f"pickup:{location.pk}", kind=PICKUP, name=_("Pick up at %(shop)s") % {"shop": location.name},
            price=quantize(Decimal(0)), location=location,
        )
        for location in availability.ready
    ]


def collect_only_message(*, lines: list[selectors.CollectOnlyLine], pickup: selectors.PickupAvailability) -> list[str]:
    """What the delivery step says when delivery was chosen for lines only a shop can hand over:
    each line and the shops that have it, then how to go on (pick-up at a shop holding the whole
    cart, or without those lines). `pickup` is the cart's `selectors.pickup_availability`, which
    names every pick-up shop (no query here)."""
    names = {location.pk: location.name for location in [*pickup.ready, *pickup.not_ready]}
    messages = []
    for line in lines:
        shops = ", ".join(names[pk] for pk in line.shop_ids if pk in names)
        named = {"title": line.title, "sku": line.sku, "quantity": line.quantity, "deliverable": line.deliverable,
                 "shops": shops}
        if not shops:
            messages.append(_("%(title)s (%(sku)s) cannot be delivered: only %(deliverable)d of the %(quantity)d "
                              "you want can be.") % named)
        elif line.deliverable:
            messages.append(_("%(title)s (%(sku)s): only %(deliverable)d of the %(quantity)d you want can be "
                              "delivered; all %(quantity)d can be picked up at %(shops)s.") % named)
        else:
            messages.append(_("%(title)s (%(sku)s) cannot be delivered: it can only be picked up at %(shops)s.")
                            % named)
    if pickup.ready:
        messages.append(_("Choose pick-up at %(shops)s below, or remove these items from your cart to have the "
                          "rest delivered.") % {"shops": ", ".join(location.name for location in pickup.ready)})
    else:
        messages.append(_("No single shop holds everything in your cart: remove these items from your cart to "
                          "have the rest delivered, and order them on their own for pick-up."))
    return messages


def find_option(options: list[ShippingOption], key: str) -> ShippingOption | None:
    return next((option for option in options if option.key == key), None)


# --- Tax ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxTable:
    """One country's tax rates, to answer "what rate for this variant" without a query per line.

    Tax classes are category slugs (see `TaxRate`): a product takes the rate of the nearest
    category on its path (its own, then its parent's...) that has one, else the country's
    default rate, else 0. The category tree comes from the storefront's cache.
    """

    country: str
    rates: dict[str, Decimal]

    def rate_for(self, variant: Variant) -> Decimal:
        if len(self.rates) > 1:
            tree = category_tree()
            node = tree.by_id.get(variant.product.category_id)
            for category in reversed(tree.ancestors(node)) if node else ():
                if category.slug in self.rates:
                    return self.rates[category.slug]
        return self.rates.get("", Decimal("0"))


def tax_table(*, country: str) -> TaxTable:
    """The tax rates for goods going to `country` (one query)."""
    return TaxTable(
        country=country.upper(),
        rates={tax_class: rate.rate for tax_class, rate in selectors.tax_rates(country=country).items()},
    )


def tax_rate_for(variant: Variant, country: str) -> Decimal:
    """The tax rate (percent) for `variant` sold to `country` (one query; use `tax_table` for many)."""
    return tax_table(country=country).rate_for(variant)


def tax_country(*, option: ShippingOption, address_country: str) -> str:
    """Where the goods are handed over: the pick-up shop's country, or the delivery address's."""
    if option.kind == PICKUP and option.location.country:
        return option.location.country
    return address_country


# --- The review ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryLine:
    item: CartItem
    tax_rate: Decimal
    unit_tax: Decimal
    line_total: Decimal  # what the order will store: with tax added when prices exclude it
    discount: Decimal = Decimal(0)
    discounts: tuple[tuple[str, Decimal], ...] = ()  # (promotion name, amount) on this line


@dataclass(frozen=True)
class CheckoutSummary:
    lines: list[SummaryLine]
    items_total: Decimal  # the lines at shelf prices (tax included or not, as the store shows them)
    tax_total: Decimal
    shipping: Decimal  # what delivery costs after its discount
    total: Decimal
    prices_include_tax: bool
    discount_total: Decimal = Decimal(0)  # lines and shipping
    shipping_discount: Decimal = Decimal(0)
    discounts: tuple[tuple[str, Decimal], ...] = ()  # (promotion name, amount), each once


def checkout_summary(*, cart: CartContents, shipping: ShippingOption, tax_rate: Callable[[Variant], Decimal],
                     pricing: Pricing | None = None) -> CheckoutSummary:
    """The review's lines, discounts, tax, shipping and total: the same arithmetic as `place_order`
    (`priced_line`; no query). `pricing` is the cart's promotions (`checkout_pricing`).

    Only purchasable lines count (a cart that is not ready never reaches the review).
    """
    included = settings.STORE_PRICES_INCLUDE_TAX
    lines, items_total, tax_total, order_subtotal = [], Decimal(0), Decimal(0), Decimal(0)
    for item in cart.items:
        if not item.is_purchasable:
            continue
        rate = Decimal(tax_rate(item.variant))
        unit_price = quantize(item.unit_price)
        discount = pricing.line_discount(item.variant.pk) if pricing else Decimal(0)
        unit_tax, line_tax_total, line_total = priced_line(unit_price, item.quantity, rate, included=included,
                                                           discount=discount)
        lines.append(SummaryLine(item=item, tax_rate=rate, unit_tax=unit_tax, line_total=line_total, discount=discount,
                                 discounts=tuple(pricing.breakdown(item.variant.pk)) if pricing else ()))
        items_total += unit_price * item.quantity
        tax_total += line_tax_total
        order_subtotal += line_total
    shipping_discount = min(pricing.result.shipping_discount, shipping.price) if pricing else Decimal(0)
    shipping_total = quantize(shipping.price - shipping_discount)
    return CheckoutSummary(
        lines=lines, items_total=quantize(items_total), tax_total=quantize(tax_total), shipping=shipping_total,
        total=quantize(order_subtotal + shipping_total), prices_include_tax=included,
        discount_total=quantize(pricing.result.discount_total) if pricing else Decimal(0),
        shipping_discount=quantize(shipping_discount),
        discounts=tuple((a.name, a.amount) for a in pricing.applied) if pricing else (),
    )


def checkout_shopper(*, user, details: CheckoutDetails, option: ShippingOption) -> Shopper:
    """Who buys, for the promotions' conditions: the account, the email typed, where it goes."""
    country = tax_country(option=option, address_country=details.country)
    return Shopper(user=user, email=details.email, country=country)


def checkout_pricing(*, cart: CartContents, user, session: SessionBase, details: CheckoutDetails,
                     option: ShippingOption) -> Pricing:
    """The cart's promotions for the review, with the code in the session and the chosen delivery."""
    return price_lines(
        items=[(item.variant, item.quantity) for item in cart.items if item.is_purchasable],
        shopper=checkout_shopper(user=user, details=details, option=option), code=session_code(session),
        shipping=option.price,
    )


# --- Placing the order --------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutDetails:
    """What the shopper typed on the details step; what the session keeps until the order exists."""

    email: str
    phone: str
    shipping_address: dict
    billing_address: dict
    delivery: str  # a ShippingOption key

    @property
    def country(self) -> str:
        """Where the goods go; for a digital order (no shipping address), the billing country."""
        return self.shipping_address.get("country", "") or self.billing_address.get("country", "")

    @property
    def digital(self) -> bool:
        return self.delivery == DIGITAL

    def to_session(self) -> dict:
        return {"email": self.email, "phone": self.phone, "shipping_address": self.shipping_address,
                "billing_address": self.billing_address, "delivery": self.delivery}

    @classmethod
    def from_session(cls, data) -> CheckoutDetails | None:
        try:
            return cls(email=str(data["email"]), phone=str(data.get("phone", "")),
                       shipping_address=dict(data["shipping_address"]), billing_address=dict(data["billing_address"]),
                       delivery=str(data["delivery"]))
        except (KeyError, TypeError, ValueError):
            return None


def checkout_cart(*, user, session: SessionBase, images: bool = True) -> CartContents:
    """The shopper's cart, ready to be bought as it stands; EmptyCart or CartNotReady otherwise.

    `images=False` when no picture is shown (the checkout pages list lines as text; placing the
    order shows nothing): one query less.
    """
    cart = cart_contents(user=user, session=session, images=images)
    if cart.is_empty:
        raise EmptyCart()
    if not cart.ready_for_checkout:
        raise CartNotReady([warning.message for warning in cart.warnings])
    return cart


def chosen_option(*, cart: CartContents, details: CheckoutDetails) -> ShippingOption:
    """The delivery option `details` names, priced for `cart` now; ShippingUnavailable if gone.

    Reads only what that kind of choice needs: the zone's methods and bands for a delivery (two
    queries), the shops holding the whole cart for a pick-up (one query), nothing for a digital
    cart. Details saved for a digital cart no longer fit a cart that now holds goods to ship (and
    the other way round): ShippingUnavailable, so the shopper gives an address.
    """
    if cart.digital_only or details.digital:
        if not (cart.digital_only and details.digital):
            raise ShippingUnavailable()
        return digital_option()
    if details.delivery.startswith(f"{PICKUP}:"):
        ready = selectors.ready_pickup_locations(cart=cart)
        options = pickup_options(availability=selectors.PickupAvailability(ready=ready, not_ready=[]))
    else:
        options = shipping_options(
            cart=cart, country=details.country, pickup=selectors.PickupAvailability(ready=[], not_ready=[])
        )
    option = find_option(options, details.delivery)
    if option is None:
        raise ShippingUnavailable()
    return option


def existing_order(*, idempotency_key: str) -> Order | None:
    return Order.objects.filter(idempotency_key=idempotency_key).first()


def place_checkout_order(
    *, user: AbstractBaseUser | None, session: SessionBase, details: CheckoutDetails | None, idempotency_key: str,
    on_placed: Callable[[Order], object] | None = None, shown_discount: Decimal | None = None,
) -> Order:
    """Turn the shopper's cart into an order priced, taxed and shipped by the server; empty the cart.

    The same `idempotency_key` (one per rendered review form) returns the order it created,
    whatever the cart holds by then: a double click or a retried POST never makes a second order.
    Otherwise the cart must be ready (EmptyCart, CartNotReady) and `details` present with a
    delivery option still offered for this cart (ShippingUnavailable otherwise).
    `orders.services.place_order` then writes the order and reserves its stock in one transaction
    (locks stock rows in pk order; raises catalog.exceptions.OutOfStock with every shortage,
    nothing written) and enqueues the confirmation email after commit. The ordered lines leave
    the cart afterwards, in their own statement: if that failed, the shopper would find a cart
    they already paid for, never an order without its cart.

    The variants the cart read (prices, products, options: checked on sale) are handed to
    `place_order`, which would otherwise read them again. `on_placed` is passed on: it runs in
    the placement transaction for an order created now (checkout opens the payment there).
    Promotions (live ones and the session's code) are priced and redeemed in that transaction;
    promotions.exceptions.PromotionUnavailable (nothing written) when a limit ran out meanwhile,
    or the promotions now give less than `shown_discount` (what the review showed).
    """
    try:
        cart = checkout_cart(user=user, session=session, images=False)
        if details is None:
            raise ShippingUnavailable()
        option = chosen_option(cart=cart, details=details)
    except CheckoutError:
        # The cart was emptied (or changed) by this very order: a retried POST finds it here.
        # Checked only on this path, since `place_order` checks the key again under its own rules.
        order = existing_order(idempotency_key=idempotency_key)
        if order is not None:
            return order
        raise
    taxes = tax_table(country=tax_country(option=option, address_country=details.country))
    purchasable = [item for item in cart.items if item.is_purchasable]
    started = timezone.now()
    order = place_order(
        lines=[PlacementLine(variant_id=item.variant.pk, quantity=item.quantity) for item in purchasable],
        email=details.email,
        idempotency_key=idempotency_key,
        shipping=option.choice(),
        customer_name=details.shipping_address.get("name", "") or details.billing_address.get("name", ""),
        phone=details.phone,
        shipping_address=details.shipping_address if option.kind == DELIVERY else {},
        billing_address=details.billing_address,
        user=user,
        tax_rate_for=taxes.rate_for,
        variants={item.variant.pk: item.variant for item in purchasable},
        on_placed=on_placed,
        # The promotions are priced inside the order's transaction, from the same variants, and
        # their uses counted there (promotions.services.redeem: PromotionUnavailable if gone).
        discounter=discounter_for(shopper=checkout_shopper(user=user, details=details, option=option),
                                  code=session_code(session), shipping=option.price, shown_discount=shown_discount),
    )
    if order.created_at >= started:
        # Made now (or by a twin request racing this one, over the same lines). An older order
        # came back for an old review form re-posted over a new cart: that cart stays.
        remove_ordered_lines(cart_id=cart.cart_id, line_ids=[item.line_id for item in purchasable])
    return order
