"""One status becomes two states: where the money is (payment_status) and where the goods are
(fulfilment_status), each with its own history (OrderEvent.state).

Every old status maps to the pair it meant. The old "partially_refunded" and "refunded" lost the
fulfilment answer: the lines say it (what shipped), the history says the rest (whether the order
was completed, cancelled or had expired before its money went back). Old status events are
rewritten into the vocabulary of the state they moved, replaying each order's history; their old
values are kept in `data["legacy"]`, so going back restores them exactly. Going back, an order's
one status is the payment state when money went back, else the fulfilment state when goods moved
or the order closed, else paid or pending payment.
"""

from django.db import migrations, models
from django.db.models import Sum

PAYMENT_VALUES = {"paid", "partially_refunded", "refunded"}
REFUND_VALUES = {"partially_refunded", "refunded"}
FULFILMENT_VALUES = {"partially_fulfilled", "fulfilled", "completed", "cancelled", "expired"}
CLOSED = {"cancelled", "expired"}
BATCH = 500


def _shipped(lines) -> str:
    """Fulfilment from what the lines say shipped: (units ordered, units shipped)."""
    ordered, shipped = lines
    if not shipped:
        return "unfulfilled"
    return "fulfilled" if shipped >= ordered else "partially_fulfilled"


def map_status(status: str, *, ordered: int, shipped: int, history: list[str]) -> tuple[str, str]:
    """(payment_status, fulfilment_status) for an order whose one status was `status`.

    `ordered`/`shipped` are its lines' units; `history` the `to_status` of its status events, oldest
    first (used only where the status lost the answer).
    """
    fulfilment = _shipped((ordered, shipped))
    if status == "pending_payment":
        return "unpaid", "unfulfilled"
    if status in CLOSED:
        return "unpaid", status
    if status == "paid":
        return "paid", fulfilment
    if status in ("partially_fulfilled", "fulfilled", "completed"):
        return "paid", status
    if status in REFUND_VALUES:
        if fulfilment == "fulfilled" and "completed" in history:
            fulfilment = "completed"
        before = [to for to in history if to not in REFUND_VALUES and to != "pending_payment"]
        if not shipped and before and before[-1] in CLOSED:
            # A cancelled or expired order's late payment, given back: it never kept the money.
            return ("refunded" if status == "refunded" else "unpaid"), before[-1]
        return status, fulfilment
    return "unpaid", "unfulfilled"  # not a status this store ever had


def _rewrite_events(events: list) -> list:
    """Give each old status event of one order its state and the values of that state's machine."""
    pay, ful = "unpaid", "unfulfilled"
    changed = []
    for event in events:
        old_from, old_to = event.from_status, event.to_status
        data = dict(event.data or {})
        refund_failed = bool(data.get("refund_failed"))
        if old_to == "pending_payment" and not old_from:
            state, new_from, new_to = "", "", "placed"
        elif old_to in PAYMENT_VALUES or (refund_failed and old_from in REFUND_VALUES):
            # A refund failing took the old status back to whatever it was (even "fulfilled"):
            # that was the payment state going back.
            to = old_to if old_to in PAYMENT_VALUES else ("unpaid" if old_to in CLOSED | {"pending_payment"}
                                                           else "paid")
            if old_to == "paid" and old_from == "expired":
                ful = "unfulfilled"  # a late payment honoured reopened the order
            state, new_from, new_to = "payment", pay, to
            pay = to
        elif old_to in FULFILMENT_VALUES:
            state, new_from, new_to = "fulfilment", ful, old_to
            ful = old_to
        else:
            continue
        data["legacy"] = {"from_status": old_from, "to_status": old_to}
        event.state, event.from_status, event.to_status, event.data = state, new_from, new_to, data
        changed.append(event)
    return changed


def forwards(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderEvent = apps.get_model("orders", "OrderEvent")
    OrderLine = apps.get_model("orders", "OrderLine")
    last = 0
    while True:
        orders = list(Order.objects.filter(pk__gt=last).order_by("pk")[:BATCH])
        if not orders:
            break
        last = orders[-1].pk
        ids = [order.pk for order in orders]
        units = {
            row["order_id"]: (row["ordered"] or 0, row["shipped"] or 0)
            for row in OrderLine.objects.filter(order_id__in=ids).values("order_id")
            .annotate(ordered=Sum("quantity"), shipped=Sum("quantity_fulfilled"))
        }
        events: dict[int, list] = {}
        for event in OrderEvent.objects.filter(order_id__in=ids, kind="status").order_by("created_at", "pk"):
            events.setdefault(event.order_id, []).append(event)
        rewritten = []
        for order in orders:
            ordered, shipped = units.get(order.pk, (0, 0))
            history = [event.to_status for event in events.get(order.pk, [])]
            order.payment_status, order.fulfilment_status = map_status(
                order.status, ordered=ordered, shipped=shipped, history=history)
            rewritten += _rewrite_events(events.get(order.pk, []))
        Order.objects.bulk_update(orders, ["payment_status", "fulfilment_status"])
        OrderEvent.objects.bulk_update(rewritten, ["state", "from_status", "to_status", "data"])


def unmap_status(payment: str, fulfilment: str) -> str:
    if payment in REFUND_VALUES:
        return payment
    if fulfilment != "unfulfilled":
        return fulfilment
    return "paid" if payment == "paid" else "pending_payment"


def backwards(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderEvent = apps.get_model("orders", "OrderEvent")
    for order in Order.objects.only("pk", "payment_status", "fulfilment_status").iterator():
        Order.objects.filter(pk=order.pk).update(status=unmap_status(order.payment_status, order.fulfilment_status))
    events = []
    for event in OrderEvent.objects.filter(kind="status").iterator():
        legacy = (event.data or {}).pop("legacy", None)
        if legacy is not None:
            event.from_status, event.to_status = legacy["from_status"], legacy["to_status"]
        elif event.to_status == "placed":
            event.to_status = "pending_payment"
        else:
            # Made after the split: its old-vocabulary equivalent, as far as one exists.
            event.from_status = {"unpaid": "pending_payment", "unfulfilled": "paid"}.get(event.from_status,
                                                                                         event.from_status)
            event.to_status = {"unpaid": "pending_payment", "unfulfilled": "paid"}.get(event.to_status,
                                                                                       event.to_status)
        events.append(event)
    OrderEvent.objects.bulk_update(events, ["from_status", "to_status", "data"], batch_size=BATCH)


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0005_returns'),
    ]

    operations = [
        migrations.AddField(
            model_name='order',
            name='payment_status',
            field=models.CharField(choices=[('unpaid', 'Not paid'), ('paid', 'Paid'), ('partially_refunded', 'Partially refunded'), ('refunded', 'Refunded')], default='unpaid', editable=False, max_length=20, verbose_name='payment'),
        ),
        migrations.AddField(
            model_name='order',
            name='fulfilment_status',
            field=models.CharField(choices=[('unfulfilled', 'Not shipped'), ('partially_fulfilled', 'Partially shipped'), ('fulfilled', 'Shipped'), ('completed', 'Completed'), ('cancelled', 'Cancelled'), ('expired', 'Expired')], default='unfulfilled', editable=False, max_length=20, verbose_name='fulfilment'),
        ),
        migrations.AddField(
            model_name='orderevent',
            name='state',
            field=models.CharField(blank=True, choices=[('payment', 'Payment'), ('fulfilment', 'Fulfilment')], max_length=10, verbose_name='state'),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
        migrations.RemoveIndex(
            model_name='order',
            name='order_status_created',
        ),
        migrations.RemoveIndex(
            model_name='order',
            name='order_reservation_expiry',
        ),
        migrations.RemoveField(
            model_name='order',
            name='status',
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['payment_status', '-created_at'], name='order_payment_created'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['fulfilment_status', '-created_at'], name='order_fulfilment_created'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['payment_status', 'fulfilment_status', 'reservation_expires_at'], name='order_reservation_expiry'),
        ),
    ]
