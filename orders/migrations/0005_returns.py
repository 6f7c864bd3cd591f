"""Returns: how many units of each line came back (never more than shipped), and a "return" kind
in the order's history."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0004_order_customer'),
    ]

    operations = [
        migrations.AddField(
            model_name='orderline',
            name='quantity_returned',
            field=models.PositiveIntegerField(default=0, verbose_name='returned'),
        ),
        migrations.AlterField(
            model_name='orderevent',
            name='kind',
            field=models.CharField(choices=[('status', 'Status changed'), ('payment', 'Payment'), ('refund', 'Refund'), ('shipment', 'Shipment'), ('email', 'Email'), ('return', 'Return'), ('note', 'Note'), ('alert', 'Alert')], max_length=10, verbose_name='kind'),
        ),
        migrations.AddConstraint(
            model_name='orderline',
            constraint=models.CheckConstraint(condition=models.Q(('quantity_returned__lte', models.F('quantity_fulfilled'))), name='order_line_returned_within_shipped'),
        ),
    ]
