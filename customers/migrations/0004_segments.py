"""Segments: the export permission, and the five built-in RFM segments (services/rfm.py says
how customers land in each). Staff may rename or describe them; they are found by rfm_segment."""

from django.db import migrations

BUILT_IN = [
    # (rfm_segment, name, description)
    ("champions", "Champions", "Bought recently, buy often and spend the most (R, F and M at least 4)."),
    ("loyal", "Loyal", "Buy often (F at least 4) and are still buying."),
    ("new", "New", "First order in the last 30 days."),
    ("at_risk", "At risk", "Used to buy often (F at least 3) but not lately (R at most 2)."),
    ("lost", "Lost", "Bought little, long ago (R 1, F at most 2)."),
]


def create_segments(apps, schema_editor):
    Segment = apps.get_model("customers", "Segment")
    for rfm_segment, name, description in BUILT_IN:
        if Segment.objects.filter(kind="rfm", rfm_segment=rfm_segment).exists():
            continue
        # A staff segment may already use the name: the built-in one then says what it is.
        if Segment.objects.filter(name=name).exists():
            name = f"{name} (RFM)"
        Segment.objects.create(kind="rfm", rfm_segment=rfm_segment, name=name, description=description)


def remove_segments(apps, schema_editor):
    apps.get_model("customers", "Segment").objects.filter(kind="rfm").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0003_accounts'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='segment',
            options={'ordering': ['kind', 'name'], 'permissions': [('export_segment', 'Can export segment members')], 'verbose_name': 'segment', 'verbose_name_plural': 'segments'},
        ),
        migrations.RunPython(create_segments, remove_segments),
    ]
