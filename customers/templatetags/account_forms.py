"""Renders form fields with the store's control classes (allauth's widgets have none).

aria-describedby and aria-invalid are Django's own (BoundField.build_widget_attrs): it points at
`<auto_id>_helptext` and `<auto_id>_error`, the ids templates/forms/_field.html writes.
"""
from functools import lru_cache

from django import forms, template
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData, mark_safe

register = template.Library()


@register.filter
def styled(bound_field: forms.BoundField):
    widget = bound_field.field.widget
    css = "checkbox" if isinstance(widget, forms.CheckboxInput) else "input"
    attrs = {"class": f"{widget.attrs.get('class', '')} {css}".strip()} if css not in widget.attrs.get("class", "") else {}
    if type(widget) in _PLAIN_INPUTS and not bound_field.field.localize:
        return _plain_input(bound_field, widget, attrs)
    return bound_field.as_widget(attrs=attrs)


# Django's own text and email inputs: their template is one <input> (django/forms/widgets/input.html
# and attrs.html), written here from the widget's own context, the same HTML without the two
# template renders per field (a checkout details page has sixteen fields).
_PLAIN_INPUTS = (forms.TextInput, forms.EmailInput)


def _plain_input(bound_field: forms.BoundField, widget: forms.TextInput | forms.EmailInput, attrs: dict):
    # As BoundField.as_widget builds the attributes and the value.
    attrs = bound_field.build_widget_attrs(attrs, widget)
    if bound_field.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", bound_field.auto_id)
    context = widget.get_context(bound_field.html_name, bound_field.value(), attrs)["widget"]
    html = [f'<input type="{conditional_escape(context["type"])}" name="{conditional_escape(context["name"])}"']
    if context["value"] is not None:
        html.append(f' value="{_as_template_string(context["value"])}"')
    for name, value in context["attrs"].items():
        if value is not False:
            html.append(f" {conditional_escape(name)}" if value is True else
                        f' {conditional_escape(name)}="{_as_template_string(value)}"')
    html.append(">")
    return mark_safe("".join(html))


def _as_template_string(value) -> str:
    """`{{ value|stringformat:'s' }}` with autoescaping: safe input stays unescaped."""
    text = "%s" % value
    return text if isinstance(value, SafeData) else escape(text)


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
