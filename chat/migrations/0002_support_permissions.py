"""Chat permissions for the staff groups.

- Support (customers/0001_staff_groups): read and answer conversations (`view_conversation`,
  `reply_conversation`, the messages), use canned replies, read the FAQ.
- Support managers (new): all of Support's, plus `manage_chat` (assign others' conversations),
  and editing the FAQ, canned replies and tags.
Permissions are created here first, as analytics/0001 does, so a fresh database can give them.
"""
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT = ["view_conversation", "reply_conversation", "view_message", "view_faqentry", "view_cannedreply",
           "view_tag"]
GRANTS = {
    "Support": SUPPORT,
    "Support managers": [
        *SUPPORT, "change_conversation", "manage_chat",
        "add_faqentry", "change_faqentry", "delete_faqentry",
        "add_cannedreply", "change_cannedreply", "delete_cannedreply",
        "add_tag", "change_tag", "delete_tag",
    ],
}


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("chat"), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="chat", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    using = schema_editor.connection.alias
    Group.objects.using(using).filter(name="Support managers").delete()
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.using(using).filter(name="Support"):
        group.permissions.remove(
            *Permission.objects.using(using).filter(content_type__app_label="chat", codename__in=SUPPORT)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0001_conversations_messages_faq"),
        ("customers", "0001_staff_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
