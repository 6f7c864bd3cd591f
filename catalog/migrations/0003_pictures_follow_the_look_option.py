"""Pictures follow an option that changes the look (colour), not one exact variant.

Before: `ProductImage.variant` tied a picture to one variant, so the navy picture showed for
navy/S and not for navy/L. After: `ProductImage.option_value` ties it to "Colour: Navy", shown for
every navy variant, and `Option.changes_look` marks the options pictures may follow.

Moving the data:
- An option whose values have swatch colours is marked `changes_look` (colour, in this store and
  the demo): swatches are what made it a colour before the flag existed.
- An image tied to a variant gets that variant's value of such an option (the first by option
  position, should it have several).
- An image tied to a variant that has no such value (a size-only product, or a store without
  swatches) becomes a picture of the whole product, shown for every variant at its position, as
  it already was for all the product's other variants. Staff can tie it to a value afterwards.
Reversing ties each image back to the first variant (by position) of its product with its value.
"""
import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

CHUNK = 500


def _chunks(ids):
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def tie_pictures_to_look_values(apps, schema_editor):
    Option = apps.get_model("catalog", "Option")
    OptionValue = apps.get_model("catalog", "OptionValue")
    ProductImage = apps.get_model("catalog", "ProductImage")
    VariantValues = apps.get_model("catalog", "Variant").option_values.through

    coloured = OptionValue.objects.exclude(swatch="").values("option_id")
    Option.objects.filter(pk__in=coloured).update(changes_look=True)

    tied = dict(ProductImage.objects.filter(variant__isnull=False).values_list("pk", "variant_id"))
    look_value_of: dict[int, int] = {}
    for variant_ids in _chunks(set(tied.values())):
        rows = (
            VariantValues.objects.filter(variant_id__in=variant_ids, optionvalue__option__changes_look=True)
            .order_by("optionvalue__option__position", "optionvalue__option__name")
            .values_list("variant_id", "optionvalue_id")
        )
        for variant_id, value_id in rows:
            look_value_of.setdefault(variant_id, value_id)
    images_of_value: dict[int, list[int]] = {}
    for image_id, variant_id in tied.items():
        if variant_id in look_value_of:
            images_of_value.setdefault(look_value_of[variant_id], []).append(image_id)
    for value_id, image_ids in images_of_value.items():
        for chunk in _chunks(image_ids):
            ProductImage.objects.filter(pk__in=chunk).update(option_value_id=value_id)
    _check_constraints_now(schema_editor)


def _check_constraints_now(schema_editor):
    # PostgreSQL checks the new foreign key at commit; a pending check would refuse the ALTER TABLE
    # that drops or adds the variant column next ("pending trigger events").
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def tie_pictures_to_first_variant(apps, schema_editor):
    ProductImage = apps.get_model("catalog", "ProductImage")
    VariantValues = apps.get_model("catalog", "Variant").option_values.through

    pairs = set(ProductImage.objects.filter(option_value__isnull=False).values_list("product_id", "option_value_id"))
    first_variant: dict[tuple[int, int], int] = {}
    for product_ids in _chunks({product_id for product_id, _ in pairs}):
        rows = (
            VariantValues.objects.filter(variant__product_id__in=product_ids)
            .order_by("variant__position", "variant_id")
            .values_list("variant__product_id", "optionvalue_id", "variant_id")
        )
        for product_id, value_id, variant_id in rows:
            first_variant.setdefault((product_id, value_id), variant_id)
    for (product_id, value_id), variant_id in first_variant.items():
        if (product_id, value_id) in pairs:
            ProductImage.objects.filter(product_id=product_id, option_value_id=value_id).update(variant_id=variant_id)
    _check_constraints_now(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0002_search'),
    ]

    operations = [
        migrations.AddField(
            model_name='option',
            name='changes_look',
            field=models.BooleanField(default=False, help_text='Tick for an option that changes how the product looks, such as colour: each of its values can have its own pictures. Leave it off for size and the like.', verbose_name='pictures follow this option'),
        ),
        migrations.AddField(
            model_name='productimage',
            name='option_value',
            field=models.ForeignKey(blank=True, help_text='The colour (or other look) in this picture; empty when it shows the product in any of them.', limit_choices_to={'option__changes_look': True}, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='images', to='catalog.optionvalue', verbose_name='shows'),
        ),
        migrations.RunPython(tie_pictures_to_look_values, tie_pictures_to_first_variant),
        migrations.RemoveField(
            model_name='productimage',
            name='variant',
        ),
        migrations.AlterField(
            model_name='optionvalue',
            name='swatch',
            field=models.CharField(blank=True, help_text='A hex colour such as #1f4e79.', max_length=7, validators=[django.core.validators.RegexValidator('^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$', 'Enter a hex colour such as #1f4e79.', code='invalid_swatch')], verbose_name='swatch colour'),
        ),
    ]
