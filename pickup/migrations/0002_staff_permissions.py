"""Give the staff groups their click-and-collect permissions.

- Order managers: everything the counter does (mark ready: add_pickup; hand over: change_pickup),
  and the shops' hours and instructions.
- Support: view pick-ups (a shopper asking where their order is).
"""
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Order managers": ["view_pickup", "add_pickup", "change_pickup", "view_pickupshop", "add_pickupshop",
                       "change_pickupshop", "view_openinghours", "add_openinghours", "change_openinghours",
                       "delete_openinghours"],
    "Support": ["view_pickup", "view_pickupshop", "view_openinghours"],
}


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("pickup"), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="pickup", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    for name, codenames in GRANTS.items():
        for group in Group.objects.using(using).filter(name=name):
            group.permissions.remove(
                *Permission.objects.using(using).filter(content_type__app_label="pickup", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("pickup", "0001_initial"),
        ("customers", "0001_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
