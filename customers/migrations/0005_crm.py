"""The CRM back office: the export permission, indexes for the customer list, and who may do what.

- Support: view customers and what hangs off them (addresses, consents, notes, activity, tags,
  wishlists, segments) and add notes. No export, no delete (so no erasure), no edits.
- Customer managers (new): everything on customers, including export (customers and segments)
  and erasure, the audit log to read, a view of orders (the customer page links to them), and
  email campaigns (write, test, send).
- Order managers: view customers (the order page links to the buyer's).

Permissions are created here first (normally post_migrate) so the groups can be given them on a
fresh database, as in 0001_staff_groups. Reversing takes the grants back and removes the new group.
"""
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

CUSTOMER_MANAGERS = "Customer managers"

CUSTOMER_MODELS = ("customer", "address", "consentrecord", "note", "activity", "tag", "segment", "wishlistitem")

GRANTS = {
    "Support": {
        "customers": [*(f"view_{model}" for model in CUSTOMER_MODELS), "add_note"],
    },
    CUSTOMER_MANAGERS: {
        "customers": [
            *(f"{action}_{model}" for model in CUSTOMER_MODELS for action in ("add", "change", "delete", "view")),
            "export_customer", "export_segment", "view_auditlog",
        ],
        "orders": ["view_order", "view_orderline", "view_orderevent", "view_shipment"],
        "marketing": [
            *(f"{action}_{model}" for model in ("campaign", "campaignmessage") for action in ("add", "change", "view")),
            "send_campaign",
        ],
    },
    "Order managers": {
        "customers": ["view_customer", "view_address", "view_note", "view_tag"],
    },
}


# The customer list's search (icontains: UPPER(col::text) LIKE UPPER('%term%') on PostgreSQL) reads
# these trigram indexes instead of scanning every customer. PostgreSQL only: SQLite has no pg_trgm,
# and its test databases are small. pg_trgm is installed by catalog's 0002_search.
SEARCH_COLUMNS = ("email", "first_name", "last_name", "phone")


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SEARCH_COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS customer_{column}_trgm ON customers_customer '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in SEARCH_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS customer_{column}_trgm")


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    for app_label in ("customers", "orders", "marketing"):
        create_permissions(global_apps.get_app_config(app_label), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, by_app in GRANTS.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        for app_label, codenames in by_app.items():
            group.permissions.add(*Permission.objects.using(using).filter(
                content_type__app_label=app_label, codename__in=codenames))


def revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.using(using).filter(name=CUSTOMER_MANAGERS).delete()
    for name, by_app in GRANTS.items():
        for group in Group.objects.using(using).filter(name=name):
            for app_label, codenames in by_app.items():
                group.permissions.remove(*Permission.objects.using(using).filter(
                    content_type__app_label=app_label, codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_segments"),
        ("marketing", "0001_campaigns"),
        ("orders", "0003_staff_permissions"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="customer",
            options={
                "ordering": ["-created_at", "-pk"],
                "permissions": [("export_customer", "Can export customers")],
                "verbose_name": "customer",
                "verbose_name_plural": "customers",
            },
        ),
        # The list's default order (newest first) reads the first page from this index instead of
        # sorting every customer.
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["-created_at", "-id"], name="customer_created"),
        ),
        migrations.RunPython(create_search_indexes, drop_search_indexes),
        migrations.RunPython(grant, revoke),
    ]
