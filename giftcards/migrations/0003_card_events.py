"""The card's events (resent, recipient changed, deactivated): the staff groups that view cards
view these too (as 0002 grants the ledger); who may resend is `change_giftcard` (Order managers)."""
import django.db.models.deletion
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.conf import settings
from django.db import migrations, models


GROUPS = ("Support", "Order managers", "Catalog managers")


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("giftcards"), apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.using(using).filter(content_type__app_label="giftcards", codename="view_giftcardevent")
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.add(*view)


class Migration(migrations.Migration):

    dependencies = [
        ('giftcards', '0002_staff_permissions'),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='GiftCardEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('resent', 'Email sent again (new code)'), ('recipient', 'Recipient changed before delivery'), ('deactivated', 'Deactivated')], max_length=12, verbose_name='kind')),
                ('by', models.CharField(choices=[('staff', 'Staff'), ('purchaser', 'Purchaser')], max_length=10, verbose_name='by')),
                ('recipient_email', models.EmailField(blank=True, max_length=254, verbose_name='sent to')),
                ('previous_email', models.EmailField(blank=True, max_length=254, verbose_name='previous recipient')),
                ('previous_last4', models.CharField(blank=True, max_length=4, verbose_name='old code ended')),
                ('last4', models.CharField(blank=True, max_length=4, verbose_name='new code ends')),
                ('note', models.CharField(blank=True, max_length=255, verbose_name='note')),
                ('key', models.CharField(blank=True, editable=False, max_length=64, null=True, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='when')),
                ('card', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='events', to='giftcards.giftcard', verbose_name='gift card')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='user')),
            ],
            options={
                'verbose_name': 'gift card event',
                'verbose_name_plural': 'gift card events',
                'ordering': ['created_at', 'pk'],
                'indexes': [models.Index(fields=['card', 'kind', 'created_at'], name='giftcard_event_card_kind')],
            },
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
