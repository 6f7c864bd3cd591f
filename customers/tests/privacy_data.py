"""A customer with one of every kind of personal data the store keeps, for the export and
erasure tests. Every value is distinct per `tag`, so a test can look for one person's values
and know they are nobody else's."""
from __future__ import annotations

import zlib
from decimal import Decimal
from types import SimpleNamespace

from allauth.account.models import EmailAddress
from django.contrib.admin.models import CHANGE, LogEntry
from django.utils import timezone

from carts.models import Cart, CartLine
from catalog.tests.factories import product_with_stock
from customers.models import Activity, ConsentRecord, Note, WishlistItem
from customers.services import customer_for_user
from customers.tests.factories import AddressFactory, NoteFactory, UserFactory
from marketing.models import CampaignMessage
from marketing.tests.factories import CampaignFactory
from notifications.models import OutboundEmail
from orders.models import Order, OrderEvent, Shipment, ShipmentLine
from orders.tests.factories import OrderFactory, OrderLineFactory
from payments.models import Payment, Refund, WebhookEvent


def full_customer(tag: str, *, first: str, last: str, total: Decimal) -> SimpleNamespace:
    email = f"{tag}.{last.lower()}@example.org"
    phone = f"+44 7700 9{zlib.crc32(tag.encode()) % 100000:05d}"
    user = UserFactory(username=f"{tag}-login", email=email, first_name=first, last_name=last)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    EmailAddress.objects.create(user=user, email=f"{tag}.old@example.net", verified=True, primary=False)
    customer = customer_for_user(user=user)
    customer.first_name, customer.last_name, customer.phone = first, last, phone
    customer.accepts_marketing = True
    customer.save()
    address = AddressFactory(customer=customer, name=f"{first} {last}", line1=f"{tag} Lighthouse Lane 7",
                             city=f"{tag}ville", postal_code=f"{tag[:3].upper()} 1ZZ", country="GB", phone=phone)
    ConsentRecord.objects.create(customer=customer, granted=True, source=ConsentRecord.Source.SIGNUP)
    visible = NoteFactory(customer=customer, body=f"Visible note for {tag}: your refund is on its way",
                          visible_to_customer=True)
    staff = UserFactory(username=f"{tag}-staffer", email=f"{tag}.staffer@store.example", first_name="Stella",
                        last_name=f"{tag.title()}staffer", is_staff=True)
    internal = NoteFactory(customer=customer, body=f"Internal note about {tag}: asked twice for a discount",
                           author=staff)
    call = NoteFactory(customer=customer, kind=Note.Kind.CALL, author=staff,
                       body=f"Called {tag}: the parcel was left with a neighbour")
    LogEntry.objects.log_actions(
        user_id=staff.pk, queryset=[customer], action_flag=CHANGE,
        change_message=[{"changed": {"fields": ["Phone"]}}], single_object=True,
    )
    campaign = CampaignFactory(name=f"{tag} lapsed lantern buyers", subject=f"Lanterns for {tag} people")
    CampaignMessage.objects.create(campaign=campaign, customer=customer, email=email,
                                   status=CampaignMessage.Status.SENT, sent_at=timezone.now())
    Activity.objects.create(customer=customer, kind=Activity.Kind.SIGNED_IN, message=f"Signed in from {tag}-laptop",
                            data={"ip": f"198.51.100.{len(tag)}"})

    product = product_with_stock(title=f"{tag.title()} Lantern", slug=f"{tag}-lantern", price=Decimal("40.00"))
    variant = product.variants.get()
    WishlistItem.objects.create(customer=customer, product=product, price_when_added=Decimal("40.00"))
    cart = Cart.objects.create(user=user)
    CartLine.objects.create(cart=cart, variant=variant, quantity=2, unit_price=Decimal("40.00"))

    tax = (total / 6).quantize(Decimal("0.01"))
    shipping_address = {"name": f"{first} {last}", "line1": f"{tag} Lighthouse Lane 7", "city": f"{tag}ville",
                        "postal_code": f"{tag[:3].upper()} 1ZZ", "country": "GB"}
    order = OrderFactory(
        customer=customer, user=user, email=email, customer_name=f"{first} {last}", phone=phone,
        shipping_address=shipping_address, billing_address=shipping_address, payment_status=Order.PaymentStatus.PAID,
        subtotal=total, total=total, tax_total=tax, paid_at=timezone.now(), shipping_method_name="Courier",
    )
    line = OrderLineFactory(order=order, sku=f"{tag.upper()}-SKU-1", quantity=1, unit_price=total, line_total=total,
                            unit_tax=tax, tax_rate=Decimal("20.00"))
    payment = Payment.objects.create(
        order=order, provider="stripe", status=Payment.Status.SUCCEEDED, amount=total, currency="USD",
        provider_session_id=f"cs_{tag}", provider_payment_id=f"pi_{tag}", succeeded_at=timezone.now(),
        raw={"checkout_session": {"id": f"cs_{tag}", "amount_total": 100, "customer_email": email,
                                  "customer_details": {"email": email, "name": f"{first} {last}", "phone": phone}}},
    )
    refund = Refund.objects.create(payment=payment, amount=Decimal("1.50"), status=Refund.Status.SUCCEEDED,
                                   reason=f"Goodwill for {first} {last}")
    WebhookEvent.objects.create(provider="stripe", event_id=f"evt_{tag}", type="checkout.session.completed",
                                payload={"data": {"object": {"id": f"cs_{tag}", "customer_email": email}}})
    shipment = Shipment.objects.create(order=order, carrier="Royal Mail", tracking_number=f"RM{tag.upper()}123GB")
    ShipmentLine.objects.create(shipment=shipment, line=line, quantity=1)
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.EMAIL, actor=OrderEvent.Actor.SYSTEM,
                              message=f"Email sent to {email}: Your order")
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.STAFF, user=staff,
                              message=f"Staff note on {tag}'s order: wrap as a gift")
    OutboundEmail.objects.create(key=f"order:{order.pk}:confirmation", kind="confirmation", order=order,
                                 subject=f"Your {tag} order", recipients=[email], status=OutboundEmail.Status.SENT,
                                 sent_at=timezone.now())
    OutboundEmail.objects.create(key=f"order:{order.pk}:shipped:1", kind="shipped", order=order, recipients=[email])
    return SimpleNamespace(
        user=user, customer=customer, email=email, first=first, last=last, phone=phone, address=address,
        visible_note=visible, internal_note=internal, call=call, staff=staff, campaign=campaign, product=product, order=order, line=line, payment=payment,
        refund=refund, shipment=shipment, tax=tax, total=total,
        personal=[email, f"{tag}.old@example.net", last, phone, f"{tag} Lighthouse Lane 7", f"{tag}ville",
                  visible.body, internal.body, call.body, f"{tag}-login"],
    )
