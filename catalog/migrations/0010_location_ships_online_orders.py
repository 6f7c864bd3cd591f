"""Whether a location ships delivered online orders (fulfilment routing, inventory/routing.py).

Every location did until now (warehouses first, then shops), so every existing one keeps doing so;
staff untick the shops whose stock is only for their counter and click and collect.
"""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0009_listing_index_stamp'),
    ]

    operations = [
        migrations.AddField(
            model_name='location',
            name='ships_online_orders',
            field=models.BooleanField(default=True, help_text='Online orders delivered to customers may be packed and shipped from here. Untick for a shop whose stock is for its counter and click and collect only.', verbose_name='ships online orders'),
        ),
    ]
