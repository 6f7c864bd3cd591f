"""Generated sales for tests and the benchmark: many days of paid orders over a catalog of several
categories, brands and products, with partial refunds, written with bulk_create (no factories per
order, so thousands of orders take seconds).

The page-weight test (test_page_weight.py) builds 90 days with it; bench/analytics_events.py
builds 14 months.
"""
from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal

from analytics.services import day_bounds

CENT = Decimal("0.01")
COUNTRIES = ("US", "US", "US", "CA", "GB", "DE", "FR", "NL", "AU")
METHODS = ("Standard", "Standard", "Express", "")


@dataclass
class GeneratedSales:
    orders: int
    payments: int
    refunds: int
    variants: list  # the catalog's variants (one per product)


def generated_catalog(*, categories: int = 12, brands: int = 8, products: int = 60, prefix: str = "gen") -> list:
    """`products` products (one variant each) spread over `categories` categories and `brands`
    brands; those already made with the same `prefix` are reused (a benchmark's second run)."""
    from catalog.models import Brand, Category, Product, Variant

    made_categories = [Category.objects.get_or_create(slug=f"{prefix}-category-{i}", parent=None,
                                                      defaults={"name": f"Category {i:02d}"})[0]
                       for i in range(categories)]
    made_brands = [Brand.objects.get_or_create(slug=f"{prefix}-brand-{i}", defaults={"name": f"Brand {i:02d}"})[0]
                   for i in range(brands)]
    variants = []
    for i in range(products):
        product, _created = Product.objects.get_or_create(slug=f"{prefix}-product-{i}", defaults={
            "title": f"Product {i:03d}", "category": made_categories[i % categories],
            "brand": made_brands[i % brands], "status": Product.Status.ACTIVE, "description": "<p>Generated.</p>"})
        variants.append(Variant.objects.get_or_create(sku=f"{prefix.upper()}-{i}", defaults={
            "product": product, "price": Decimal(10 + (i * 7) % 190)})[0])
    return variants


def generated_sales(*, first: datetime.date, last: datetime.date, per_day: int, variants: list | None = None,
                    seed: int = 10, prefix: str = "gen", batch: int = 5000) -> GeneratedSales:
    """`per_day` paid orders (give or take a fifth) on each store day from `first` to `last`, each of
    1-3 lines, paid in full at its `paid_at`; one order in 12 partly refunded a day or two later.

    Every order is a guest's (no customer): the figures under test do not depend on who bought.
    """
    from orders.models import Order, OrderLine
    from payments.models import Payment, Refund

    variants = variants or generated_catalog(prefix=prefix)
    rng = random.Random(seed)
    counts = GeneratedSales(0, 0, 0, variants)
    day = first
    pending: list[tuple[Order, list[OrderLine], datetime.datetime]] = []

    def write() -> None:
        orders = Order.objects.bulk_create([order for order, _lines, _at in pending], batch_size=batch)
        for order, lines, _at in pending:
            for line in lines:
                line.order = order  # its pk is known only now
        OrderLine.objects.bulk_create([line for _order, lines, _at in pending for line in lines], batch_size=batch)
        payments = Payment.objects.bulk_create([
            Payment(order=order, provider="demo", amount=order.total, currency="USD",
                    status=Payment.Status.SUCCEEDED, succeeded_at=at)
            for order, _lines, at in pending
        ], batch_size=batch)
        refunds = []
        for payment, (order, _lines, at) in zip(payments, pending):
            if rng.random() < 1 / 12:
                refunds.append((Refund(payment=payment, amount=(order.total / 4).quantize(CENT),
                                       status=Refund.Status.SUCCEEDED),
                                at + datetime.timedelta(days=rng.choice((1, 2)), hours=rng.randrange(3))))
        made = Refund.objects.bulk_create([refund for refund, _at in refunds], batch_size=batch)
        # created_at is auto_now_add: the refund's day is set afterwards, one UPDATE per refund day.
        by_time: dict[datetime.datetime, list[int]] = {}
        for refund, (_r, when) in zip(made, refunds):
            by_time.setdefault(when.replace(minute=0, second=0, microsecond=0), []).append(refund.pk)
        for when, pks in by_time.items():
            Refund.objects.filter(pk__in=pks).update(created_at=when)
        counts.orders += len(orders)
        counts.payments += len(payments)
        counts.refunds += len(made)
        pending.clear()

    while day <= last:
        start, end = day_bounds(day)
        seconds = int((end - start).total_seconds())
        for n in range(max(1, round(per_day * rng.uniform(0.8, 1.2)))):
            at = start + datetime.timedelta(seconds=rng.randrange(seconds))
            lines = []
            for variant in rng.sample(variants, rng.choice((1, 1, 2, 3))):
                quantity = rng.choice((1, 1, 1, 2, 3))
                lines.append(OrderLine(variant=variant, product_title=f"Product {variant.product_id}",
                                       sku=variant.sku, quantity=quantity, unit_price=variant.price,
                                       line_total=variant.price * quantity))
            subtotal = sum((line.line_total for line in lines), Decimal("0"))
            shipping = Decimal("0") if subtotal > 100 else Decimal("5.00")
            key = f"{prefix}-{day.isoformat()}-{n}"
            order = Order(
                number=f"{prefix[0].upper()}{day.strftime('%y%m%d')}{n:04d}", idempotency_key=key,
                email=f"{key}@generated.invalid", currency="USD", subtotal=subtotal, shipping_total=shipping,
                total=subtotal + shipping, payment_status=Order.PaymentStatus.PAID, paid_at=at,
                shipping_method_name=rng.choice(METHODS), shipping_address={"country": rng.choice(COUNTRIES)},
            )
            pending.append((order, lines, at))
        if len(pending) >= batch:
            write()
        day += datetime.timedelta(days=1)
    if pending:
        write()
    return counts
