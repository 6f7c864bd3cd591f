"""Categories, brands, options and attributes with their values."""
from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ..models import Attribute, AttributeValue, Brand, Category, Option, OptionValue


class CategoryAdminForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = "__all__"

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        if parent is not None and self.instance.pk:
            # Walk up from the new parent: meeting this category means the tree would loop.
            parents = dict(Category.objects.values_list("id", "parent_id"))
            current = parent.pk
            while current is not None:
                if current == self.instance.pk:
                    raise ValidationError(_("A category cannot be placed inside itself or one of its subcategories."))
                current = parents.get(current)
        return parent


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryAdminForm
    list_display = ("name", "parent", "slug", "position", "is_active")
    list_editable = ("position", "is_active")
    list_filter = ("is_active",)
    list_select_related = ("parent",)
    ordering = ("position", "name")
    search_fields = ("name", "slug")
    autocomplete_fields = ("parent",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class OptionValueInline(admin.TabularInline):
    model = OptionValue
    fields = ("value", "slug", "swatch", "position")
    prepopulated_fields = {"slug": ("value",)}
    extra = 1


@admin.register(Option)
class OptionAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position", "changes_look")
    list_editable = ("position", "changes_look")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = [OptionValueInline]


class AttributeValueInline(admin.TabularInline):
    model = AttributeValue
    fields = ("value", "slug", "position")
    prepopulated_fields = {"slug": ("value",)}
    extra = 1


@admin.register(Attribute)
class AttributeAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position")
    list_editable = ("position",)
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = [AttributeValueInline]


class HiddenFromIndex(admin.ModelAdmin):
    """Registered for autocomplete only: values are edited inline under their option/attribute."""

    def get_model_perms(self, request):
        return {}


@admin.register(OptionValue)
class OptionValueAdmin(HiddenFromIndex):
    search_fields = ("value", "option__name")
    list_select_related = ("option",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("option")


@admin.register(AttributeValue)
class AttributeValueAdmin(HiddenFromIndex):
    search_fields = ("value", "attribute__name")
    list_select_related = ("attribute",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("attribute")
