"""Staff groups: what each kind of staff member may do in the back office.

- Catalog managers: add, change, delete and view everything in the catalog.
- Order managers: view the catalog (order permissions join when the orders app has models).
- Support: view the catalog.

Permissions are normally created after `migrate` finishes (post_migrate); they are created here
first so the groups can be given them on a fresh database. Reversing removes the groups.
"""
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

CATALOG_MANAGERS = "Catalog managers"
ORDER_MANAGERS = "Order managers"
SUPPORT = "Support"


def catalog_codenames(apps, actions: tuple[str, ...]) -> list[str]:
    return [
        f"{action}_{model._meta.model_name}"
        for model in apps.get_app_config("catalog").get_models()
        for action in actions
    ]


def create_groups(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("catalog"), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def grant(name: str, codenames: list[str]) -> None:
        group, _created = Group.objects.using(using).get_or_create(name=name)
        permissions = Permission.objects.using(using).filter(content_type__app_label="catalog", codename__in=codenames)
        group.permissions.add(*permissions)

    grant(CATALOG_MANAGERS, catalog_codenames(apps, ("add", "change", "delete", "view")))
    grant(ORDER_MANAGERS, catalog_codenames(apps, ("view",)))
    grant(SUPPORT, catalog_codenames(apps, ("view",)))


def remove_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(
        name__in=[CATALOG_MANAGERS, ORDER_MANAGERS, SUPPORT]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("catalog", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
