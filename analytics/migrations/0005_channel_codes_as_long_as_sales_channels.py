"""A figure's channel holds any sales channel's code (40 characters): a counter's is "pos-<location
code>", and the demo's "pos-shop-harbour-street" (23) made PostgreSQL refuse the day's rollup.
Lengthening a varchar is a catalogue change on PostgreSQL: the event table is not rewritten."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0004_product_days'),
    ]

    operations = [
        migrations.AlterField(
            model_name='dailymetric',
            name='channel',
            field=models.CharField(default='web', max_length=40, verbose_name='channel'),
        ),
        migrations.AlterField(
            model_name='event',
            name='channel',
            field=models.CharField(default='web', max_length=40, verbose_name='channel'),
        ),
        migrations.AlterField(
            model_name='funnelday',
            name='channel',
            field=models.CharField(default='web', max_length=40, verbose_name='channel'),
        ),
        migrations.AlterField(
            model_name='productday',
            name='channel',
            field=models.CharField(default='web', max_length=40, verbose_name='channel'),
        ),
    ]
