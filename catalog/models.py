"""The catalog: categories, brands, products and their variants, images, locations and stock.

Prices live on variants (a product without options has one default variant). Stock lives on
`StockLevel`, one row per variant per location; the database keeps both quantities non-negative
and never lets more be reserved than is on hand.
"""
from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from shop.html import sanitize_html
from shop.models import TimeStamped

from .fields import ProductImageField


class Category(TimeStamped):
    """A node of the category tree. Siblings are ordered by `position`; URLs are slug paths."""

    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)
    seo_title = models.CharField(_("SEO title"), max_length=70, blank=True)
    seo_description = models.CharField(_("SEO description"), max_length=160, blank=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "slug"], name="category_slug_unique_among_siblings"),
            models.UniqueConstraint(
                fields=["slug"], condition=Q(parent__isnull=True), name="category_root_slug_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.description = sanitize_html(self.description)
        super().save(*args, **kwargs)


class Brand(TimeStamped):
    name = models.CharField(_("name"), max_length=120, unique=True)
    slug = models.SlugField(_("slug"), max_length=120, unique=True)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Option(models.Model):
    """A dimension variants differ by, such as size or colour.

    An option that `changes_look` (colour, say) is one pictures follow: a product's image may
    belong to one of its values, and is then shown for every variant with that value, whatever
    the other options (size) are.
    """

    name = models.CharField(_("name"), max_length=60, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    changes_look = models.BooleanField(
        _("pictures follow this option"),
        default=False,
        help_text=_("Tick for an option that changes how the product looks, such as colour: each of its values "
                    "can have its own pictures. Leave it off for size and the like."),
    )

    class Meta:
        verbose_name = _("option")
        verbose_name_plural = _("options")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


SWATCH_COLOUR = RegexValidator(
    r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", _("Enter a hex colour such as #1f4e79."), code="invalid_swatch"
)


class OptionValue(models.Model):
    option = models.ForeignKey(Option, verbose_name=_("option"), on_delete=models.CASCADE, related_name="values")
    value = models.CharField(_("value"), max_length=60)
    slug = models.SlugField(_("slug"), max_length=60)
    position = models.PositiveIntegerField(_("position"), default=0)
    # The swatch's colour, e.g. "#1f4e79"; empty for options that are not colours. Pages draw it as
    # an SVG fill (no style attribute, so a strict Content-Security-Policy needs no exception).
    swatch = models.CharField(
        _("swatch colour"), max_length=7, blank=True, validators=[SWATCH_COLOUR],
        help_text=_("A hex colour such as #1f4e79."),
    )

    class Meta:
        verbose_name = _("option value")
        verbose_name_plural = _("option values")
        ordering = ["option__position", "position", "value"]
        constraints = [models.UniqueConstraint(fields=["option", "slug"], name="option_value_slug_unique")]

    def __str__(self) -> str:
        return f"{self.option.name}: {self.value}"


class Attribute(models.Model):
    """A product-level property shoppers filter by, such as material."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("attribute")
        verbose_name_plural = _("attributes")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class AttributeValue(models.Model):
    attribute = models.ForeignKey(
        Attribute, verbose_name=_("attribute"), on_delete=models.CASCADE, related_name="values"
    )
    value = models.CharField(_("value"), max_length=60)
    slug = models.SlugField(_("slug"), max_length=60)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("attribute value")
        verbose_name_plural = _("attribute values")
        ordering = ["attribute__position", "position", "value"]
        constraints = [models.UniqueConstraint(fields=["attribute", "slug"], name="attribute_value_slug_unique")]

    def __str__(self) -> str:
        return f"{self.attribute.name}: {self.value}"


class ProductQuerySet(models.QuerySet):
    def published(self, *, category_ids: list[int] | None = None) -> ProductQuerySet:
        """Products a shopper may see on the web store: on sale, and not sold in shops only.

        The web channel's publication (saleschannels.Publication) is a subquery in the same
        statement, so no page pays a query for it. `category_ids`: see `on_sale_anywhere`.
        PostgreSQL search applies the same rule on its own tables (`catalog.search.Published`):
        a change here goes there too (tests/test_search.py compares the two).
        """
        from saleschannels.selectors import not_sold_online

        return self.on_sale_anywhere(category_ids=category_ids).exclude(pk__in=not_sold_online())

    def on_sale_anywhere(self, *, category_ids: list[int] | None = None) -> ProductQuerySet:
        """Active products in a category whose whole ancestry is active, whatever the channel.

        A hidden category hides its subtree, so the test is membership of the cached active tree
        rather than the product's own category flag. A caller that has the active categories' ids
        already (a precompiled query takes them as a parameter) passes them as `category_ids`.
        """
        if category_ids is None:
            from .selectors import category_tree

            category_ids = list(category_tree().by_id)
        return self.filter(status=Product.Status.ACTIVE, category_id__in=category_ids)

    def in_stock(self) -> ProductQuerySet:
        """Products a shopper can buy online now (`catalog.stock.available_online_q`, the one rule)."""
        from .stock import available_online_q

        return self.filter(Exists(StockLevel.objects.filter(available_online_q(), variant__product=OuterRef("pk"))))


class Product(TimeStamped):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="products"
    )
    brand = models.ForeignKey(
        Brand, verbose_name=_("brand"), null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    # Rich text; sanitised when saved and again when rendered, so no script reaches a page.
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    is_featured = models.BooleanField(_("featured"), default=False)
    attribute_values = models.ManyToManyField(
        AttributeValue, verbose_name=_("attributes"), blank=True, related_name="products"
    )
    seo_title = models.CharField(_("SEO title"), max_length=70, blank=True)
    seo_description = models.CharField(_("SEO description"), max_length=160, blank=True)
    # Units sold, kept by the order services; drives the "best-selling" sort without a join.
    units_sold = models.PositiveIntegerField(_("units sold"), default=0, editable=False)

    objects = ProductQuerySet.as_manager()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "category"], name="product_status_category"),
            models.Index(fields=["-created_at"], name="product_created"),
            models.Index(fields=["-units_sold"], name="product_units_sold"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        self.description = sanitize_html(self.description)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("catalog:product", kwargs={"slug": self.slug})


class Variant(TimeStamped):
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    option_values = models.ManyToManyField(
        OptionValue, verbose_name=_("option values"), blank=True, related_name="variants"
    )
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    compare_at_price = models.DecimalField(
        _("compare-at price"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("The former price; when higher than the price the variant shows as on sale."),
    )
    weight = models.DecimalField(
        _("weight (kg)"), max_digits=8, decimal_places=3, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    barcode = models.CharField(_("barcode"), max_length=32, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="variant_price_non_negative"),
            models.CheckConstraint(
                condition=Q(compare_at_price__isnull=True) | Q(compare_at_price__gte=0),
                name="variant_compare_at_price_non_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["product", "price"], name="variant_product_price"),
            # The sell screen finds a scanned GTIN/EAN in one indexed lookup (pos app).
            models.Index(fields=["barcode"], name="variant_barcode"),
        ]

    def __str__(self) -> str:
        return self.sku

    @property
    def on_sale(self) -> bool:
        return self.compare_at_price is not None and self.compare_at_price > self.price


def product_image_path(instance: ProductImage, filename: str) -> str:
    """`filename` is already the content name (`catalog.fields.content_name`), never the client's."""
    return f"products/{instance.product_id or 'new'}/{filename}"


class ProductImage(TimeStamped):
    """A picture of a product: of every variant, or of one value of an option that changes the look.

    A picture of the navy jacket belongs to "Colour: Navy", not to one navy variant, so it shows
    for navy in every size. `catalog.selectors.pick_picture` chooses among them.
    """

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="images")
    option_value = models.ForeignKey(
        OptionValue,
        verbose_name=_("shows"),
        null=True,
        blank=True,
        # A value that still has pictures cannot be deleted: they would silently become every colour's.
        on_delete=models.PROTECT,
        related_name="images",
        limit_choices_to={"option__changes_look": True},
        help_text=_("The colour (or other look) in this picture; empty when it shows the product in any of them."),
    )
    # Validated when uploaded, stored as <content hash>.<detected format> (catalog/fields.py).
    image = ProductImageField(_("image"), upload_to=product_image_path, width_field="width", height_field="height")
    width = models.PositiveIntegerField(editable=False, null=True)
    height = models.PositiveIntegerField(editable=False, null=True)
    alt_text = models.CharField(
        _("alt text"), max_length=200, blank=True, help_text=_("Describes the image for people who cannot see it.")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    # Width in pixels -> storage path of the WebP rendition; filled once by a Celery task.
    renditions = models.JSONField(_("renditions"), default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = _("product image")
        verbose_name_plural = _("product images")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.alt_text or self.image.name

    def clean(self) -> None:
        super().clean()
        if self.option_value_id and not self.option_value.option.changes_look:
            raise ValidationError(
                {"option_value": _("Pictures can only follow an option marked “pictures follow this option”.")}
            )


class Location(TimeStamped):
    """A place stock is kept: a warehouse, or a shop customers may be able to pick up from."""

    class Kind(models.TextChoices):
        WAREHOUSE = "warehouse", _("Warehouse")
        SHOP = "shop", _("Shop")

    name = models.CharField(_("name"), max_length=120)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.WAREHOUSE)
    pickup_allowed = models.BooleanField(_("customers may pick up here"), default=False)
    # Fulfilment routing (inventory.routing) reserves delivered online orders only where this is
    # set; click and collect reserves at the chosen shop whatever it says.
    ships_online_orders = models.BooleanField(
        _("ships online orders"), default=True,
        help_text=_("Online orders delivered to customers may be packed and shipped from here. Untick for a shop "
                    "whose stock is for its counter and click and collect only."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address (line 2)"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO 3166 code, e.g. US"))
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class StockLevel(TimeStamped):
    """How many units of a variant a location holds, and how many of those are promised to orders."""

    variant = models.ForeignKey(Variant, verbose_name=_("variant"), on_delete=models.CASCADE, related_name="stock_levels")
    location = models.ForeignKey(
        Location, verbose_name=_("location"), on_delete=models.PROTECT, related_name="stock_levels"
    )
    on_hand = models.IntegerField(_("on hand"), default=0, validators=[MinValueValidator(0)])
    reserved = models.IntegerField(_("reserved"), default=0, validators=[MinValueValidator(0)], editable=False)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        ordering = ["location__position", "location__name"]
        constraints = [
            models.UniqueConstraint(fields=["variant", "location"], name="stock_level_unique_per_location"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_non_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_non_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"),
        ]

    def __str__(self) -> str:
        return f"{self.variant.sku} @ {self.location.code}"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved



class CategoryListingIndex(models.Model):
    """A category's own published products, compactly, for listings (see catalog/listing_index.py).

    Derived data: `data` is cleared (and `generation` raised) in the same transaction as any change
    it reflects, and rebuilt by the next listing that needs it.
    """

    category = models.OneToOneField(
        Category, on_delete=models.CASCADE, primary_key=True, related_name="listing_index"
    )
    generation = models.PositiveBigIntegerField(default=0)
    # Random, new with every stored build: with the generation, what a process's decoded copy is
    # checked against (listing_index.parts).
    stamp = models.BigIntegerField(default=0)
    data = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = _("category listing index")
        verbose_name_plural = _("category listing indexes")
        # Kept by the catalog services, never edited: no staff permission to grant.
        default_permissions = ()

    def __str__(self) -> str:
        return f"listing index of category {self.category_id}"
