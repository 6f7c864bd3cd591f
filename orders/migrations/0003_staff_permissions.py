"""Give the staff groups (customers/0001_staff_groups) their order permissions.

- Order managers: view and change orders; view lines, allocations and history; add history
  entries (internal notes). Totals and statuses stay read-only in the admin whatever the
  permission: they change only through services.
- Support: view orders and their history.
"""
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Order managers": [
        "view_order", "change_order", "view_orderline", "view_allocation", "view_orderevent", "add_orderevent",
        "view_shipment", "view_shipmentline",
    ],
    "Support": ["view_order", "view_orderline", "view_orderevent", "view_shipment"],
}


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("orders"), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="orders", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    for name, codenames in GRANTS.items():
        for group in Group.objects.using(using).filter(name=name):
            group.permissions.remove(
                *Permission.objects.using(using).filter(content_type__app_label="orders", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_shipments"),
        ("customers", "0001_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
