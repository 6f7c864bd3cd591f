# The copies go; 0004 moved what only they knew to the records that stay.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('returns', '0004_copied_facts_to_their_records'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='exchangeline',
            name='shipped_at',
        ),
        migrations.RemoveField(
            model_name='returnrequest',
            name='refund',
        ),
    ]
