"""Demo gift cards for `manage.py seed_demo`: gift card products to buy ($25, $50, $100)."""
from __future__ import annotations

from decimal import Decimal

from django.db import transaction

AMOUNTS = (Decimal("25.00"), Decimal("50.00"), Decimal("100.00"))
# Digital: the cart, checkout and orders never check or reserve it (giftcards/digital.py), and the
# product page offers the card without it; the row only keeps the listings' "in stock" filter and
# badge (read from stock rows by the listing index) showing the cards as available.
STOCK = 100_000


@transaction.atomic
def seed_demo_gift_cards() -> int:
    """Create the gift card products that are missing (published, in the first top category, with
    stock in the first active location); return how many were created. Idempotent (by slug)."""
    from catalog.models import Category, Location, Product, StockLevel, Variant
    from inventory import ledger
    from inventory.models import Reason

    from .models import GiftCardProduct

    category = Category.objects.filter(parent=None, is_active=True).order_by("position", "pk").first()
    location = Location.objects.filter(is_active=True).order_by("position", "pk").first()
    if category is None or location is None:
        return 0
    created = 0
    for amount in AMOUNTS:
        whole = int(amount)
        slug = f"gift-card-{whole}"
        if Product.objects.filter(slug=slug).exists():
            continue
        product = Product.objects.create(
            title=f"Gift card ${whole}", slug=slug, category=category, status=Product.Status.ACTIVE,
            description="Emailed to whoever you choose, on the day you choose, with your message. "
                        "Spend it on anything in the store; valid for two years.",
        )
        variant = Variant.objects.create(product=product, sku=f"GIFT-{whole}", price=amount)
        StockLevel.objects.create(variant=variant, location=location, on_hand=STOCK)
        ledger.record(cause=ledger.Cause(reason=Reason.OPENING, note="Demo gift card"),
                      changes=[(variant.pk, location.pk, STOCK)])
        GiftCardProduct.objects.create(product=product, valid_months=24)
        created += 1
    return created
