"""The "Shop staff" group: sell at the counter (open, sell, close a register) and read the counter's
records. Staff also need `is_staff` to reach the sell screen; nothing here reaches orders' admin."""
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Shop staff"
CODENAMES = ["sell", "view_sale", "view_register", "view_registersession", "view_cashmovement"]


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("pos"), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _created = Group.objects.using(using).get_or_create(name=GROUP)
    group.permissions.add(*Permission.objects.using(using).filter(content_type__app_label="pos",
                                                                  codename__in=CODENAMES))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [("pos", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(grant, revoke)]
