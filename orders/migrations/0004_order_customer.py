"""Orders point at their buyer in the CRM; existing orders are linked by email (one customer
per lower-cased email, an account's customer when the order had a user)."""
import django.db.models.deletion
from django.db import migrations, models


def link_existing_orders(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    Customer = apps.get_model("customers", "Customer")
    by_email = {c.email: c for c in Customer.objects.all()}
    for order in Order.objects.filter(customer__isnull=True).order_by("created_at").iterator():
        email = order.email.strip().lower()
        customer = by_email.get(email)
        if customer is None:
            first, _sep, last = order.customer_name.partition(" ")
            customer = Customer.objects.create(email=email, first_name=first[:100], last_name=last[:100],
                                               user_id=order.user_id if not Customer.objects.filter(user_id=order.user_id).exists() else None)
            by_email[email] = customer
        Order.objects.filter(pk=order.pk).update(customer=customer)


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0002_customers"),
        ("orders", "0003_staff_permissions"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="customer",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="orders",
                to="customers.customer", verbose_name="customer",
            ),
        ),
        migrations.RunPython(link_existing_orders, migrations.RunPython.noop),
    ]
