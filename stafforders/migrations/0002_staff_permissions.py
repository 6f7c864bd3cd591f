"""Give Order managers the draft orders (phone, email and B2B orders): type, edit, place."""
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Order managers": ["view_draftorder", "add_draftorder", "change_draftorder", "delete_draftorder",
                       "view_draftline", "add_draftline", "change_draftline", "delete_draftline"],
}


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("stafforders"), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="stafforders", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    for name, codenames in GRANTS.items():
        for group in Group.objects.using(using).filter(name=name):
            group.permissions.remove(
                *Permission.objects.using(using).filter(content_type__app_label="stafforders", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("stafforders", "0001_initial"),
        ("customers", "0001_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
