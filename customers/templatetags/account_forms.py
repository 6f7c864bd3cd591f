"""Renders form fields with the store's control classes (allauth's widgets have none).

aria-describedby and aria-invalid are Django's own (BoundField.build_widget_attrs): it points at
`<auto_id>_helptext` and `<auto_id>_error`, the ids templates/forms/_field.html writes.
"""
from django import forms, template

register = template.Library()


@register.filter
def styled(bound_field: forms.BoundField):
    widget = bound_field.field.widget
    css = "checkbox" if isinstance(widget, forms.CheckboxInput) else "input"
    attrs = {"class": f"{widget.attrs.get('class', '')} {css}".strip()} if css not in widget.attrs.get("class", "") else {}
    return bound_field.as_widget(attrs=attrs)
