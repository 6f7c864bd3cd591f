"""Events, daily figures, and the "Reports" staff group that sees the dashboard and the figures.

Reports: `view_reports` (the dashboard on the admin index) and `view_dailymetric`. Not the raw
events (they name customers: that is the CRM's permission to give), nor orders: the dashboard's
links open the order list for staff who may read orders (Order managers, Support).
Permissions are created here first, as customers/0001_staff_groups does, so a fresh database
can give them; reversing removes the group.
"""

import django.db.models.deletion
import uuid

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations, models


REPORTS = "Reports"
CODENAMES = ["view_reports", "view_dailymetric"]


def create_reports_group(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("analytics"), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _created = Group.objects.using(using).get_or_create(name=REPORTS)
    group.permissions.add(
        *Permission.objects.using(using).filter(content_type__app_label="analytics", codename__in=CODENAMES)
    )


def remove_reports_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(name=REPORTS).delete()


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('customers', '0005_crm'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.CreateModel(
            name='DailyMetric',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='day')),
                ('channel', models.CharField(default='web', max_length=20, verbose_name='channel')),
                ('metric', models.CharField(choices=[('charged', 'Charged'), ('refunded', 'Refunded'), ('net_sales', 'Net sales'), ('orders', 'Orders'), ('order_value', 'Order value'), ('units', 'Units'), ('new_customers', 'New customers'), ('returning_customers', 'Returning customers'), ('visitors', 'Visitors'), ('converted_visitors', 'Visitors who ordered'), ('product_views', 'Product views'), ('adds_to_cart', 'Adds to cart'), ('checkouts', 'Checkouts started')], max_length=30, verbose_name='figure')),
                ('value', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='value')),
                ('computed_at', models.DateTimeField(auto_now=True, verbose_name='computed')),
            ],
            options={
                'verbose_name': 'daily figure',
                'verbose_name_plural': 'daily figures',
                'ordering': ['-day', 'channel', 'metric'],
                'permissions': [('view_reports', 'Can see the reports and the dashboard')],
                'constraints': [models.UniqueConstraint(fields=('day', 'channel', 'metric'), name='daily_metric_once')],
            },
        ),
        migrations.CreateModel(
            name='Event',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('name', models.CharField(max_length=40, verbose_name='event')),
                ('occurred_at', models.DateTimeField(verbose_name='when')),
                ('visitor_id', models.CharField(blank=True, max_length=32, verbose_name='visitor')),
                ('channel', models.CharField(default='web', max_length=20, verbose_name='channel')),
                ('device', models.CharField(blank=True, choices=[('mobile', 'Mobile'), ('tablet', 'Tablet'), ('desktop', 'Desktop')], max_length=10, verbose_name='device')),
                ('utm_source', models.CharField(blank=True, max_length=100, verbose_name='campaign source')),
                ('utm_medium', models.CharField(blank=True, max_length=100, verbose_name='campaign medium')),
                ('utm_campaign', models.CharField(blank=True, max_length=100, verbose_name='campaign')),
                ('properties', models.JSONField(blank=True, default=dict, verbose_name='properties')),
                ('customer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='customers.customer', verbose_name='customer')),
            ],
            options={
                'verbose_name': 'event',
                'verbose_name_plural': 'events',
                'ordering': ['-occurred_at', '-pk'],
                'indexes': [models.Index(fields=['occurred_at', 'name'], name='analytics_event_when_name')],
            },
        ),
        migrations.RunPython(create_reports_group, remove_reports_group),
    ]
