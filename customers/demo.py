"""Demo customers for `manage.py seed_demo`: accounts and guests, a year of orders, consents,
notes, a few rule segments, then the stored figures and RFM scores, so the CRM and the segment
pages show something real on a first run.

Customer #i is derived from (seed, i) alone and keyed by its email: a run adds the customers that
are missing, with their orders, and leaves the others alone, so running it again adds nothing.
Orders are written directly (multi-row INSERTs through catalog.demo.seed's writer), not through
checkout, but consistently: lines priced from the demo catalog, totals that add up, a succeeded
demo payment for every paid order, refunds for refunded ones, shipments for shipped ones, paid_at
and history. Stock levels are not touched: the demo orders are history, not reservations.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from catalog.demo.seed import insert_rows
from catalog.models import Category, Variant
from orders.models import Order, OrderEvent, OrderLine, Shipment, ShipmentLine, new_order_number
from orders.status import FULFILMENT, PAYMENT, PLACED
from payments.models import Payment, Provider, Refund
from shop.db import analyze
from shop.money import currency_code

from .models import ConsentRecord, Customer, Note, Segment, Tag
from .services.rfm import score_customers
from .services.stats import refresh_customer_stats

P = Order.PaymentStatus
F = Order.FulfilmentStatus
FIRST_NAMES = [
    "Ada", "Ben", "Chloe", "Daniel", "Elif", "Farah", "Gustav", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Mateo",
    "Nadia", "Oskar", "Priya", "Quinn", "Rosa", "Samir", "Tove", "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe",
]
LAST_NAMES = [
    "Andersen", "Baker", "Costa", "Dubois", "Eriksson", "Fischer", "García", "Hughes", "Ibrahim", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Novak", "O'Brien", "Petrov", "Quist", "Rossi", "Schmidt", "Tanaka",
]
CITIES = [
    ("Portland", "OR", "97205"), ("Denver", "CO", "80202"), ("Seattle", "WA", "98101"), ("Boulder", "CO", "80302"),
    ("Burlington", "VT", "05401"), ("Asheville", "NC", "28801"), ("Madison", "WI", "53703"),
]
STREETS = ["Alder Street", "Birch Lane", "Cedar Avenue", "Fern Road", "Harbour Way", "Juniper Court", "Maple Row"]
NOTES = [
    ("call", "Asked whether the rain jacket runs small; suggested one size up."),
    ("email", "Parcel arrived with a torn box; contents fine. Sent a discount code."),
    ("note", "Prefers pick-up at the Harbour shop."),
    ("chat", "Wanted to know when the 40 L pack is back in stock."),
    ("visit", "Came to the shop to try boots; bought online afterwards."),
]
DEMO_SEGMENTS = [
    # name, description, rules (bought_from_category is a category slug here)
    ("Big spenders gone quiet", "Spent 300 or more and no order in 90 days: worth a personal note.",
     {"min_total_spent": Decimal("300.00"), "no_order_for_days": 90}),
    ("Newsletter subscribers", "Everyone who agreed to marketing email.", {"has_marketing_consent": True}),
    ("Campers", "Bought anything from Camping (tents, sleeping bags, camp kitchen).",
     {"bought_from_category": "camping"}),
]
FREE_SHIPPING_FROM = Decimal("75.00")
SHIPPING = Decimal("4.95")


@dataclass
class DemoCustomersReport:
    created: int = 0
    accounts: int = 0
    orders: int = 0
    lines: int = 0
    consents: int = 0
    seconds: float = 0.0


@dataclass
class _Product:
    variant_id: int
    title: str
    sku: str
    price: Decimal
    options: str


def demo_email(index: int, *, seed: int) -> str:
    rng = random.Random(f"customer-name:{seed}:{index}")
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first}.{last}".lower().replace("'", "").replace("í", "i")
    return f"{local}.{index + 1}@example.com"


def _catalog() -> list[_Product]:
    """Every active variant of an active product, with its options as an order line spells them."""
    options: dict[int, list[str]] = {}
    for variant_id, option, value in (
        Variant.option_values.through.objects.order_by("optionvalue__option__position", "pk")
        .values_list("variant_id", "optionvalue__option__name", "optionvalue__value")
    ):
        options.setdefault(variant_id, []).append(f"{option}: {value}")
    return [
        _Product(pk, title, sku, price, ", ".join(options.get(pk, [])))
        for pk, title, sku, price in Variant.objects.filter(is_active=True, product__status="active")
        .order_by("pk").values_list("pk", "product__title", "sku", "price")
    ]


def _order_days(rng: random.Random) -> list[float]:
    """Days before now of a customer's orders, oldest first: one-off buyers, returning ones,
    regulars, some who stopped buying months ago and some who started last week."""
    roll = rng.random()
    count = 0 if roll < 0.05 else 1 if roll < 0.50 else rng.randint(2, 4) if roll < 0.85 else rng.randint(5, 10)
    if not count:
        return []
    first = rng.uniform(1, 365)
    # A third of repeat buyers stopped a while ago; the rest are still buying.
    last = rng.uniform(0, first * 0.15) if rng.random() < 0.67 else rng.uniform(first * 0.4, first * 0.8)
    if count == 1:
        return [first]
    middle = sorted((rng.uniform(last, first) for _ in range(count - 2)), reverse=True)
    return [first, *middle, last]


def _status(rng: random.Random, days_ago: float) -> tuple[str, str]:
    """(payment state, fulfilment state) of one demo order."""
    roll = rng.random()
    if roll < 0.03:
        return P.UNPAID, F.CANCELLED
    if roll < 0.06:
        return P.REFUNDED, F.UNFULFILLED
    if roll < 0.08:
        return P.PARTIALLY_REFUNDED, F.UNFULFILLED
    if days_ago < 2:
        return P.PAID, F.UNFULFILLED
    if days_ago < 7:
        return P.PAID, F.FULFILLED
    return P.PAID, F.COMPLETED


def seed_demo_customers(*, count: int = 300, seed: int = 1, now: datetime | None = None) -> DemoCustomersReport:
    """Make sure demo customers 0..count-1 exist, each with its orders; then refresh the figures and
    scores. Needs the demo catalog (orders are made of its variants); without products, customers
    are created without orders. One transaction for the writes, then the planner statistics of the
    tables filled are refreshed (`shop.db.analyze`)."""
    started = time.perf_counter()
    report = DemoCustomersReport()
    now = now or timezone.now()
    currency = currency_code()
    emails = [demo_email(i, seed=seed) for i in range(count)]
    existing = set(Customer.objects.filter(email__in=emails).values_list("email", flat=True))
    missing = [(i, email) for i, email in enumerate(emails) if email not in existing]
    catalog = _catalog()
    if missing:
        with transaction.atomic():
            report = _create(missing, catalog=catalog, seed=seed, now=now, currency=currency)
            _ensure_segments()
            refresh_customer_stats(customer_ids=list(
                Customer.objects.filter(email__in=[email for _i, email in missing]).values_list("pk", flat=True)
            ))
        analyze(
            get_user_model(), Customer, ConsentRecord, Customer.tags.through, Note, Order, OrderLine, OrderEvent,
            Payment, Refund, Shipment, ShipmentLine,
        )
    score_customers(now=now)
    report.seconds = time.perf_counter() - started
    return report


def _create(missing: list[tuple[int, str]], *, catalog: list[_Product], seed: int, now: datetime,
            currency: str) -> DemoCustomersReport:
    report = DemoCustomersReport()
    User = get_user_model()
    people, orders, lines, notes = [], [], [], []
    for index, email in missing:
        rng = random.Random(f"customer:{seed}:{index}")
        names = random.Random(f"customer-name:{seed}:{index}")
        first, last = names.choice(FIRST_NAMES), names.choice(LAST_NAMES)
        days = _order_days(rng) if catalog else []
        joined = now - timedelta(days=(days[0] if days else rng.uniform(1, 365)) + rng.uniform(0, 30))
        city, region, postal_code = rng.choice(CITIES)
        address = {"name": f"{first} {last}", "company": "", "line1": f"{rng.randint(1, 400)} {rng.choice(STREETS)}",
                   "line2": "", "city": city, "region": region, "postal_code": postal_code, "country": "US"}
        person = {
            "email": email, "first_name": first, "last_name": last, "phone": f"+1 217 555 01{rng.randint(0, 99):02d}",
            "has_account": rng.random() < 0.45, "accepts_marketing": rng.random() < 0.4,
            "wholesale": rng.random() < 0.03, "joined": joined,
        }
        people.append(person)
        for number, days_ago in enumerate(days):
            placed = now - timedelta(days=days_ago)
            payment, fulfilment = _status(rng, days_ago)
            key = f"demo-{seed}-{index}-{number}"
            picked = rng.sample(catalog, k=min(len(catalog), rng.choice([1, 1, 1, 2, 2, 3, 4])))
            subtotal = Decimal("0")
            for product in picked:
                quantity = rng.choice([1, 1, 1, 1, 2, 2, 3])
                total = product.price * quantity
                subtotal += total
                lines.append({
                    "order_key": key, "variant_id": product.variant_id, "product_title": product.title,
                    "sku": product.sku, "options": product.options, "quantity": quantity, "unit_price": product.price,
                    "tax_rate": Decimal("0"), "unit_tax": Decimal("0"), "line_total": total,
                    "quantity_fulfilled": quantity if fulfilment in (F.FULFILLED, F.COMPLETED) else 0,
                })
            shipping = Decimal("0") if subtotal >= FREE_SHIPPING_FROM else SHIPPING
            orders.append({
                "key": key, "email": email, "payment": payment, "fulfilment": fulfilment, "placed": placed, "subtotal": subtotal,
                "shipping": shipping, "total": subtotal + shipping, "address": address,
                "name": f"{first} {last}", "phone": person["phone"], "has_account": person["has_account"],
                # Some refunds give back everything, some one item's worth.
                "refund": (subtotal + shipping) if payment == P.REFUNDED
                else (subtotal / 2).quantize(Decimal("0.01")) if payment == P.PARTIALLY_REFUNDED else None,
            })
        if rng.random() < 0.04:
            kind, body = rng.choice(NOTES)
            notes.append((email, kind, body))

    # Accounts: no usable password (demo people never sign in), a verified address for allauth.
    accounts = [p for p in people if p["has_account"]]
    taken = set(User.objects.filter(username__in=[p["email"] for p in accounts]).values_list("username", flat=True))
    User.objects.bulk_create([
        User(username=p["email"], email=p["email"], first_name=p["first_name"], last_name=p["last_name"],
             password=make_password(None), date_joined=p["joined"])
        for p in accounts if p["email"] not in taken
    ])
    user_ids = dict(User.objects.filter(username__in=[p["email"] for p in accounts]).values_list("username", "pk"))
    from allauth.account.models import EmailAddress

    EmailAddress.objects.bulk_create([
        EmailAddress(user_id=user_ids[p["email"]], email=p["email"], verified=True, primary=True)
        for p in accounts if p["email"] not in taken
    ], ignore_conflicts=True)

    customer_ids = insert_rows(Customer, [
        {
            "email": p["email"], "user_id": user_ids.get(p["email"]), "first_name": p["first_name"],
            "last_name": p["last_name"], "phone": p["phone"], "language": "en",
            "accepts_marketing": p["accepts_marketing"],
            "marketing_consent_at": p["joined"] if p["accepts_marketing"] else None,
            "created_at": p["joined"], "updated_at": now,
        }
        for p in people
    ], now=now, key="email")
    report.created, report.accounts = len(people), len(accounts)

    ConsentRecord.objects.bulk_create([
        ConsentRecord(customer_id=customer_ids[p["email"]], granted=True, source=ConsentRecord.Source.IMPORT,
                      purpose=ConsentRecord.Purpose.MARKETING_EMAIL)
        for p in people if p["accepts_marketing"]
    ])
    report.consents = sum(p["accepts_marketing"] for p in people)
    wholesale, _created = Tag.objects.get_or_create(name="Wholesale")
    Customer.tags.through.objects.bulk_create([
        Customer.tags.through(customer_id=customer_ids[p["email"]], tag_id=wholesale.pk)
        for p in people if p["wholesale"]
    ])
    Note.objects.bulk_create([
        Note(customer_id=customer_ids[email], kind=kind, body=body) for email, kind, body in notes
    ])

    _create_orders(orders, lines, customer_ids=customer_ids, user_ids=user_ids, now=now, currency=currency)
    report.orders, report.lines = len(orders), len(lines)
    return report


def _create_orders(orders: list[dict], lines: list[dict], *, customer_ids: dict, user_ids: dict, now: datetime,
                   currency: str) -> None:
    order_ids = insert_rows(Order, [
        {
            "number": new_order_number(), "payment_status": o["payment"], "fulfilment_status": o["fulfilment"],
            "email": o["email"],
            "customer_id": customer_ids[o["email"]], "user_id": user_ids.get(o["email"]) if o["has_account"] else None,
            "customer_name": o["name"], "phone": o["phone"], "shipping_address": o["address"],
            "billing_address": o["address"], "currency": currency, "prices_include_tax": True,
            "subtotal": o["subtotal"], "shipping_total": o["shipping"], "tax_total": Decimal("0"),
            "total": o["total"], "shipping_method_name": "Standard", "idempotency_key": o["key"],
            "created_at": o["placed"], "updated_at": o["placed"],
            "paid_at": None if o["payment"] == P.UNPAID else o["placed"] + timedelta(minutes=3),
        }
        for o in orders
    ], now=now, key="idempotency_key")
    # Order lines have no natural key; shipment lines find theirs by order below.
    insert_rows(OrderLine, [
        {key: value for key, value in line.items() if key != "order_key"} | {"order_id": order_ids[line["order_key"]]}
        for line in lines
    ], now=now)

    paid = [o for o in orders if o["payment"] != P.UNPAID]
    payment_ids = insert_rows(Payment, [
        {
            "order_id": order_ids[o["key"]], "provider": Provider.DEMO, "status": Payment.Status.SUCCEEDED,
            "amount": o["total"], "currency": currency, "provider_session_id": f"demo_cs_{o['key']}",
            "provider_payment_id": f"demo_pi_{o['key']}", "raw": {"demo": True}, "created_at": o["placed"],
            "updated_at": o["placed"], "succeeded_at": o["placed"] + timedelta(minutes=3),
        }
        for o in paid
    ], now=now, key="provider_payment_id")
    refunds = []
    for o in paid:
        if o["refund"]:
            payment_id = payment_ids[f"demo_pi_{o['key']}"]
            refunds.append({
                "payment_id": payment_id, "amount": o["refund"], "status": Refund.Status.SUCCEEDED,
                "provider_reference": f"demo_re_{o['key']}", "reason": "Returned",
                "idempotency_key": f"payment-{payment_id}-refund-1-{o['refund']}",
                "created_at": o["placed"] + timedelta(days=9),
            })
    insert_rows(Refund, refunds, now=now)

    events = []
    for o in orders:
        order_id, placed = order_ids[o["key"]], o["placed"]
        events.append({"order_id": order_id, "kind": OrderEvent.Kind.STATUS, "state": "", "from_status": "",
                       "to_status": PLACED, "actor": OrderEvent.Actor.CUSTOMER, "message": "Demo order",
                       "data": {}, "created_at": placed})
        # Each state's moves, from where every order starts (unpaid, unfulfilled).
        steps = [(PAYMENT, P.UNPAID, P.PAID)] if o["payment"] != P.UNPAID else []
        if o["payment"] in (P.PARTIALLY_REFUNDED, P.REFUNDED):
            steps.append((PAYMENT, P.PAID, o["payment"]))
        if o["fulfilment"] in (F.FULFILLED, F.COMPLETED, F.CANCELLED):
            steps.append((FULFILMENT, F.UNFULFILLED, F.CANCELLED if o["fulfilment"] == F.CANCELLED else F.FULFILLED))
        if o["fulfilment"] == F.COMPLETED:
            steps.append((FULFILMENT, F.FULFILLED, F.COMPLETED))
        for number, (state, before, after) in enumerate(steps, start=1):
            events.append({"order_id": order_id, "kind": OrderEvent.Kind.STATUS, "state": state,
                           "from_status": before, "to_status": after, "actor": OrderEvent.Actor.SYSTEM,
                           "message": "", "data": {}, "created_at": placed + timedelta(days=number * 2 - 2, minutes=3)})
    insert_rows(OrderEvent, events, now=now)

    shipped = [o for o in orders if o["fulfilment"] in (F.FULFILLED, F.COMPLETED)]
    shipment_ids = insert_rows(Shipment, [
        {"order_id": order_ids[o["key"]], "carrier": "UPS", "tracking_number": f"1Z{o['key'].upper()}",
         "tracking_url": "", "created_at": o["placed"] + timedelta(days=2)}
        for o in shipped
    ], now=now, key="tracking_number")
    by_order = {order_ids[o["key"]]: shipment_ids[f"1Z{o['key'].upper()}"] for o in shipped}
    insert_rows(ShipmentLine, [
        {"shipment_id": by_order[order_id], "line_id": line_id, "quantity": quantity}
        for line_id, order_id, quantity in OrderLine.objects.filter(order_id__in=by_order)
        .values_list("pk", "order_id", "quantity")
    ], now=now)


def _ensure_segments() -> None:
    """A few rule segments to start from (found by name; staff may have changed them since)."""
    for name, description, rules in DEMO_SEGMENTS:
        rules = dict(rules)
        slug = rules.pop("bought_from_category", None)
        if slug is not None:
            rules["bought_from_category"] = Category.objects.filter(slug=slug).first()
        Segment.objects.get_or_create(name=name, defaults={"kind": Segment.Kind.RULES, "description": description,
                                                           **rules})
