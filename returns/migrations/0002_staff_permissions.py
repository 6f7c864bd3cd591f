"""Give the staff groups (customers/0001_staff_groups) their returns permissions, as their order
permissions (orders/0003_staff_permissions):

- Order managers: view and act on returns (approve, refuse, receive, refund, exchange: the
  buttons check `change_returnrequest`), their lines and history; set the return policy.
- Support: view returns, their lines and history (and so the shopper's photo).
"""
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Order managers": ["view_returnrequest", "change_returnrequest", "view_returnline", "view_returnevent",
                       "view_returnpolicy", "change_returnpolicy"],
    "Support": ["view_returnrequest", "view_returnline", "view_returnevent", "view_returnpolicy"],
}


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("returns"), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="returns", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    for name, codenames in GRANTS.items():
        for group in Group.objects.using(using).filter(name=name):
            group.permissions.remove(
                *Permission.objects.using(using).filter(content_type__app_label="returns", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("returns", "0001_initial"),
        ("customers", "0001_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
