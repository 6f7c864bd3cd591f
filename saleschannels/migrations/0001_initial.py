"""Sales channels, price lists and where products are sold.

Seeds the web store ("web": every existing and future order defaults to it), phone and back-office
orders ("phone"), and one counter channel per active shop location.
"""

import django.db.models.deletion
from django.db import migrations, models


def create_channels(apps, schema_editor):
    using = schema_editor.connection.alias
    Channel = apps.get_model("saleschannels", "Channel")
    Location = apps.get_model("catalog", "Location")
    Channel.objects.using(using).get_or_create(code="web", defaults={"name": "Web store", "kind": "web"})
    Channel.objects.using(using).get_or_create(
        code="phone", defaults={"name": "Phone and back office", "kind": "phone"}
    )
    for location in Location.objects.using(using).filter(kind="shop", is_active=True).order_by("pk"):
        if not Channel.objects.using(using).filter(kind="pos", location=location).exists():
            Channel.objects.using(using).get_or_create(
                code=f"pos-{location.code}"[:40],
                defaults={"name": f"{location.name} counter", "kind": "pos", "location": location},
            )


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('catalog', '0007_listing_index_has_no_staff_permissions'),
    ]

    operations = [
        migrations.CreateModel(
            name='PriceList',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                ('name', models.CharField(max_length=120, unique=True, verbose_name='name')),
            ],
            options={
                'verbose_name': 'price list',
                'verbose_name_plural': 'price lists',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='Publication',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                ('sold_in', models.CharField(choices=[('both', 'Online and in shops'), ('online', 'Online only'), ('shops', 'In shops only')], default='both', max_length=10, verbose_name='sold in')),
                ('product', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='publication', to='catalog.product', verbose_name='product')),
            ],
            options={
                'verbose_name': 'product publication',
                'verbose_name_plural': 'product publications',
                'ordering': ['product'],
            },
        ),
        migrations.CreateModel(
            name='Channel',
            fields=[
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                ('code', models.SlugField(max_length=40, primary_key=True, serialize=False, verbose_name='code')),
                ('name', models.CharField(max_length=120, verbose_name='name')),
                ('kind', models.CharField(choices=[('web', 'Web store'), ('pos', 'Shop counter (point of sale)'), ('phone', 'Phone and back office'), ('app', 'App')], max_length=10, verbose_name='kind')),
                ('is_active', models.BooleanField(default=True, verbose_name='active')),
                ('location', models.ForeignKey(blank=True, help_text='The shop whose counter this is (shop counters only).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='channels', to='catalog.location', verbose_name='shop')),
                ('price_list', models.ForeignKey(blank=True, help_text="Prices that replace the catalog's; empty: catalog prices.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='channels', to='saleschannels.pricelist', verbose_name='price list')),
            ],
            options={
                'verbose_name': 'sales channel',
                'verbose_name_plural': 'sales channels',
                'ordering': ['kind', 'name'],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('kind', 'pos'), ('location__isnull', False)), models.Q(models.Q(('kind', 'pos'), _negated=True), ('location__isnull', True)), _connector='OR'), name='channel_location_only_for_counters'), models.CheckConstraint(condition=models.Q(models.Q(('kind', 'web'), _negated=True), ('price_list__isnull', True), _connector='OR'), name='channel_web_sells_at_catalog_prices')],
            },
        ),
        migrations.CreateModel(
            name='PriceListEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('price', models.DecimalField(decimal_places=2, max_digits=12, verbose_name='price')),
                ('price_list', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='entries', to='saleschannels.pricelist', verbose_name='price list')),
                ('variant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='price_list_entries', to='catalog.variant', verbose_name='variant')),
            ],
            options={
                'verbose_name': 'price',
                'verbose_name_plural': 'prices',
                'ordering': ['price_list', 'variant'],
                'constraints': [models.UniqueConstraint(fields=('price_list', 'variant'), name='price_list_entry_unique_variant'), models.CheckConstraint(condition=models.Q(('price__gte', 0)), name='price_list_entry_price_non_negative')],
            },
        ),
        migrations.RunPython(create_channels, migrations.RunPython.noop),
    ]
