"""Let the staff groups (customers/0001_staff_groups) see payments.

- Order managers: view payments, refunds and provider events (refunds are made from the order
  page through `payments.services.refund_payment`; nothing here is edited by hand).
- Support: view payments and refunds.
"""
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Order managers": ["view_payment", "view_refund", "view_webhookevent"],
    "Support": ["view_payment", "view_refund"],
}


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("payments"), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="payments", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    for name, codenames in GRANTS.items():
        for group in Group.objects.using(using).filter(name=name):
            group.permissions.remove(
                *Permission.objects.using(using).filter(content_type__app_label="payments", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0001_initial"),
        ("customers", "0001_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
