"""Gift card permissions for the staff groups (customers/0001_staff_groups).

- Support: view cards, their ledgers and the gift card products (to answer "what is left on my
  card?"); they cannot issue or deactivate one.
- Order managers: the same, plus issuing a card (`add_giftcard`, a goodwill gesture) and
  deactivating one or changing its expiry (`change_giftcard`): money the store gives away, so a
  manager-level right. Nobody deletes a card (the admin refuses; the ledger must stay).
- Catalog managers: which products are gift cards (`GiftCardProduct`), and view the cards.
Permissions are created here first, as analytics/0001 does, so a fresh database can give them.
"""
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["view_giftcard", "view_giftcardtransaction", "view_giftcardproduct"]
GRANTS = {
    "Support": VIEW,
    "Order managers": [*VIEW, "add_giftcard", "change_giftcard"],
    "Catalog managers": [*VIEW, "add_giftcardproduct", "change_giftcardproduct", "delete_giftcardproduct"],
}


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("giftcards"), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="giftcards", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    for name, codenames in GRANTS.items():
        for group in Group.objects.using(using).filter(name=name):
            group.permissions.remove(
                *Permission.objects.using(using).filter(content_type__app_label="giftcards", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("giftcards", "0001_gift_cards_and_ledger"),
        ("customers", "0001_staff_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
