"""Outbox retries on a schedule: the time of each email's next attempt, "being sent" while a sender
holds its claim, and "given up" for staff after too many attempts.

Unsent rows are due at once (the old rule retried them after 15 minutes at the latest); failed rows
that already had as many attempts as the new rule allows are given up.
"""
from django.db import migrations, models
from django.utils import timezone

GIVE_UP_AFTER_ATTEMPTS = 30  # notifications.services at the time of this migration


def schedule_unsent(apps, schema_editor):
    OutboundEmail = apps.get_model("notifications", "OutboundEmail")
    unsent = OutboundEmail.objects.filter(status__in=["pending", "failed"])
    unsent.filter(attempts__gte=GIVE_UP_AFTER_ATTEMPTS).update(status="gave_up")
    unsent.update(next_attempt_at=timezone.now())


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0001_initial'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='outboundemail',
            name='outbound_email_status_created',
        ),
        migrations.AddField(
            model_name='outboundemail',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='next attempt'),
        ),
        migrations.AlterField(
            model_name='outboundemail',
            name='status',
            field=models.CharField(choices=[('pending', 'Waiting to be sent'), ('sending', 'Being sent'), ('failed', 'Failed, will be retried'), ('gave_up', 'Failed, not retried any more'), ('sent', 'Sent'), ('skipped', 'Not needed any more')], default='pending', editable=False, max_length=10, verbose_name='status'),
        ),
        migrations.AddIndex(
            model_name='outboundemail',
            index=models.Index(fields=['status', 'next_attempt_at'], name='outbound_email_status_due'),
        ),
        migrations.RunPython(schedule_unsent, migrations.RunPython.noop),
    ]
