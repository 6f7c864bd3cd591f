"""When an order's money is due: before it ships (every order so far), or on invoice, after.

stafforders/0003 marks the orders staff placed on invoice before this field existed.
"""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0009_order_paid_at_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='order',
            name='payment_terms',
            field=models.CharField(choices=[('prepaid', 'Paid before shipping'), ('invoice', 'On invoice (ships before payment)')], default='prepaid', editable=False, max_length=10, verbose_name='payment terms'),
        ),
    ]
