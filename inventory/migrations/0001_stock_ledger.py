"""The stock movement ledger, opened with one movement per stock level for the stock on hand today.

From here on every writer of on-hand stock adds a movement in the same transaction, so the
ledger adds up to every stock level (`manage.py check_stock_ledger`).
"""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def open_balances(apps, schema_editor):
    using = schema_editor.connection.alias
    StockLevel = apps.get_model("catalog", "StockLevel")
    StockMovement = apps.get_model("inventory", "StockMovement")
    batch = []
    levels = StockLevel.objects.using(using).exclude(on_hand=0).order_by("pk")
    for variant_id, location_id, on_hand in levels.values_list("variant_id", "location_id", "on_hand").iterator():
        batch.append(StockMovement(variant_id=variant_id, location_id=location_id, quantity=on_hand,
                                   reason="opening", note="On hand when the ledger began"))
        if len(batch) == 2000:
            StockMovement.objects.using(using).bulk_create(batch)
            batch = []
    StockMovement.objects.using(using).bulk_create(batch)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('catalog', '0007_listing_index_has_no_staff_permissions'),
        ('orders', '0007_order_channel'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='StockMovement',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('quantity', models.IntegerField(verbose_name='units')),
                ('reason', models.CharField(choices=[('opening', 'Opening balance'), ('set', 'Set by staff'), ('import', 'Stock file imported'), ('sale', 'Shipped to a customer'), ('return', 'Returned by a customer'), ('count', 'Stock count'), ('damage', 'Damaged'), ('theft', 'Theft or loss'), ('found', 'Found'), ('transfer_out', 'Sent on a transfer'), ('transfer_in', 'Received from a transfer'), ('reallocation', 'Allocation moved')], max_length=20, verbose_name='reason')),
                ('note', models.CharField(blank=True, max_length=255, verbose_name='note')),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='when')),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='by')),
                ('location', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='stock_movements', to='catalog.location', verbose_name='location')),
                ('order', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='stock_movements', to='orders.order', verbose_name='order')),
                ('variant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='stock_movements', to='catalog.variant', verbose_name='variant')),
            ],
            options={
                'verbose_name': 'stock movement',
                'verbose_name_plural': 'stock movements',
                'ordering': ['-created_at', '-pk'],
                'indexes': [models.Index(fields=['variant', 'location'], name='movement_variant_location')],
                'constraints': [models.CheckConstraint(condition=models.Q(('quantity', 0), _negated=True), name='movement_quantity_not_zero')],
            },
        ),
        migrations.RunPython(open_balances, migrations.RunPython.noop),
    ]
