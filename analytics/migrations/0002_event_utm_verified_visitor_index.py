"""Events remember whether their campaign parameters were signed by the store (analytics/utm.py),
and are found by visitor id for "Download my data" and erasure (customers/services/privacy.events_of).

Reversible: removing the field and the index loses only the verified flags.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0001_events_daily_figures_reports_group'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='utm_verified',
            field=models.BooleanField(default=False, verbose_name='campaign link verified'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(fields=['visitor_id'], name='analytics_event_visitor'),
        ),
    ]
