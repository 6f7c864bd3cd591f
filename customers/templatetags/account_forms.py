"""Renders form fields with the store's control classes (allauth's widgets have none).

aria-describedby and aria-invalid are Django's own (BoundField.build_widget_attrs): it points at
`<auto_id>_helptext` and `<auto_id>_error`, the ids templates/forms/_field.html writes.
"""
from functools import lru_cache

from django import forms, template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def styled(bound_field: forms.BoundField):
    widget = bound_field.field.widget
    css = "checkbox" if isinstance(widget, forms.CheckboxInput) else "input"
    attrs = {"class": f"{widget.attrs.get('class', '')} {css}".strip()} if css not in widget.attrs.get("class", "") else {}
    return bound_field.as_widget(attrs=attrs)


@register.filter
def country_options(bound_field: forms.BoundField):
    """The <option>s of a country select (~250), the chosen one `selected`: written here, as the
    template loop they replace did, in a fraction of its time (a checkout page draws two)."""
    value = bound_field.value()
    return mark_safe("".join(
        f"{start}{' selected' if code == value else ''}{end}"
        for code, start, end in _options(tuple(bound_field.field.choices))
    ))


@lru_cache(maxsize=16)
def _options(choices: tuple) -> tuple[tuple[str, str, str], ...]:
    """Each choice's code and its <option> escaped around the place of `selected` (one list of
    countries per language, so a few entries)."""
    return tuple((code, f'<option value="{escape(code)}"', f">{escape(name)}</option>") for code, name in choices)
