"""Migration 0003: pictures tied to a variant move to that variant's colour (and back)."""
from django.db.migrations.executor import MigrationExecutor

from conftest import png_file


def test_the_migration_moves_variant_pictures_to_their_colour_and_back(unmigrated_database):
    executor = MigrationExecutor(unmigrated_database)
    executor.migrate([("catalog", "0002_search")])
    apps = executor.loader.project_state([("catalog", "0002_search")]).apps
    model = apps.get_model
    category = model("catalog", "Category").objects.create(name="Jackets", slug="jackets")
    colour = model("catalog", "Option").objects.create(name="Colour", slug="colour", position=1)
    size = model("catalog", "Option").objects.create(name="Size", slug="size", position=0)
    black = model("catalog", "OptionValue").objects.create(option=colour, value="Black", slug="black",
                                                           swatch="#1f2124")
    large = model("catalog", "OptionValue").objects.create(option=size, value="L", slug="l")
    jacket = model("catalog", "Product").objects.create(title="Jacket", slug="jacket", category=category)
    black_l = model("catalog", "Variant").objects.create(product=jacket, sku="J-BLK-L", price=10, position=1)
    black_l.option_values.set([black, large])
    large_only = model("catalog", "Variant").objects.create(product=jacket, sku="J-L", price=10, position=2)
    large_only.option_values.set([large])
    image = model("catalog", "ProductImage")
    of_black = image.objects.create(product=jacket, variant=black_l, image=png_file("b.png"), position=0)
    of_size = image.objects.create(product=jacket, variant=large_only, image=png_file("l.png"), position=1)
    of_all = image.objects.create(product=jacket, image=png_file("all.png"), position=2)

    # when
    executor.loader.build_graph()
    executor.migrate([("catalog", "0003_pictures_follow_the_look_option")])
    apps = executor.loader.project_state([("catalog", "0003_pictures_follow_the_look_option")]).apps
    image = apps.get_model("catalog", "ProductImage")

    # then: colour (it has swatches) is what pictures follow; the black variant's picture is
    # Black's; a picture of a variant with no colour, like one of no variant, is the product's
    assert list(apps.get_model("catalog", "Option").objects.filter(changes_look=True).values_list(
        "slug", flat=True)) == ["colour"]
    assert dict(image.objects.values_list("pk", "option_value_id")) == {
        of_black.pk: black.pk, of_size.pk: None, of_all.pk: None,
    }

    # and back: the picture goes to the first black variant
    executor.loader.build_graph()
    executor.migrate([("catalog", "0002_search")])
    apps = executor.loader.project_state([("catalog", "0002_search")]).apps
    assert dict(apps.get_model("catalog", "ProductImage").objects.values_list("pk", "variant_id")) == {
        of_black.pk: black_l.pk, of_size.pk: None, of_all.pk: None,
    }
