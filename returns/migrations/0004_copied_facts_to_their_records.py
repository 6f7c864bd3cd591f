# ReturnRequest.refund copied the first of ReturnRequest.refunds, and ExchangeLine.shipped_at
# copied its ExchangeShipment's created_at (docs/decisions.md, "One record per fact"). Before the
# copies go (0005; a migration of its own, since PostgreSQL cannot alter a table whose deferred
# foreign-key checks this one's updates left pending), every fact only a copy holds is moved to
# the record that stays:
# - a return's `refund` missing from its `refunds` (refunded before 0003 added them) is added;
# - exchange lines marked shipped with no shipment (sent before 0003 recorded carriers) get one
#   shipment per return and moment, dated when they left, carrier and tracking "not recorded"
#   (the constraint wants one or the other, and nothing else is known about those parcels).
# Reversible: the copies are filled again from the records.

from django.db import migrations

NOT_RECORDED = "Not recorded"


def move_facts_to_their_records(apps, schema_editor):
    ReturnRequest = apps.get_model("returns", "ReturnRequest")
    ExchangeLine = apps.get_model("returns", "ExchangeLine")
    ExchangeShipment = apps.get_model("returns", "ExchangeShipment")
    Through = ReturnRequest.refunds.through

    linked = set(Through.objects.values_list("returnrequest_id", "refund_id"))
    Through.objects.bulk_create(
        Through(returnrequest_id=request_id, refund_id=refund_id)
        for request_id, refund_id in ReturnRequest.objects.filter(refund__isnull=False).values_list("pk", "refund_id")
        if (request_id, refund_id) not in linked
    )

    unrecorded: dict[tuple, list[int]] = {}
    for pk, request_id, shipped_at in ExchangeLine.objects.filter(
            shipped_at__isnull=False, shipment__isnull=True).values_list("pk", "request_id", "shipped_at"):
        unrecorded.setdefault((request_id, shipped_at), []).append(pk)
    for (request_id, shipped_at), line_ids in unrecorded.items():
        shipment = ExchangeShipment.objects.create(request_id=request_id, carrier=NOT_RECORDED,
                                                   tracking_number=NOT_RECORDED)
        ExchangeShipment.objects.filter(pk=shipment.pk).update(created_at=shipped_at)  # auto_now_add on create
        ExchangeLine.objects.filter(pk__in=line_ids).update(shipment=shipment)


def fill_the_copies_again(apps, schema_editor):
    ReturnRequest = apps.get_model("returns", "ReturnRequest")
    ExchangeLine = apps.get_model("returns", "ExchangeLine")
    for request in ReturnRequest.objects.filter(refunds__isnull=False).distinct():
        request.refund = request.refunds.order_by("pk").first()
        request.save(update_fields=["refund"])
    for line in ExchangeLine.objects.filter(shipment__isnull=False).select_related("shipment"):
        line.shipped_at = line.shipment.created_at
        line.save(update_fields=["shipped_at"])


class Migration(migrations.Migration):

    dependencies = [
        ('returns', '0003_refunds_and_exchange_shipments'),
    ]

    operations = [
        migrations.RunPython(move_facts_to_their_records, fill_the_copies_again),
    ]
