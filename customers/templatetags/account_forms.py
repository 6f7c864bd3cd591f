"""Renders allauth's form fields with the store's control classes (allauth's widgets have none)."""
from django import forms, template

register = template.Library()


@register.filter
def styled(bound_field: forms.BoundField):
    widget = bound_field.field.widget
    css = "checkbox" if isinstance(widget, forms.CheckboxInput) else "input"
    attrs = {"class": f"{widget.attrs.get('class', '')} {css}".strip()} if css not in widget.attrs.get("class", "") else {}
    if bound_field.help_text:
        attrs["aria-describedby"] = f"{bound_field.auto_id}-help"
    if bound_field.errors:
        attrs["aria-invalid"] = "true"
    return bound_field.as_widget(attrs=attrs)

