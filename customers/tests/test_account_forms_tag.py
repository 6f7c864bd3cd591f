"""`styled` writes Django's text and email inputs itself (customers/templatetags/account_forms.py):
the HTML must be exactly what Django's widget templates render, bound or not, with errors, with
values that need escaping."""
import pytest

from checkout.forms import AddressForm, CheckoutForm
from customers.templatetags.account_forms import _PLAIN_INPUTS, styled

HOSTILE = {"shipping-name": 'A "<b>" & co', "shipping-line1": "", "shipping-country": "US",
           "shipping-postal_code": "x" * 30, "email": "not an email", "phone": "<tel>"}


def django_rendering(bound_field) -> str:
    widget = bound_field.field.widget
    attrs = {} if "input" in widget.attrs.get("class", "") else {"class": f"{widget.attrs.get('class', '')} input".strip()}
    return bound_field.as_widget(attrs=attrs)


@pytest.mark.parametrize("data", [None, {}, HOSTILE], ids=["unbound", "empty", "hostile"])
def test_plain_inputs_render_as_djangos_templates_do(data):
    forms = [AddressForm(data, prefix="shipping"), CheckoutForm(data, options=[], initial={"email": "a@b.c"}),
             AddressForm(None, prefix="billing", initial={"name": "O'Neil & <x>", "country": "FR"})]
    compared = 0
    for form in forms:
        if form.is_bound:
            form.is_valid()
        for bound_field in form:
            if type(bound_field.field.widget) in _PLAIN_INPUTS:
                assert styled(bound_field) == django_rendering(bound_field)
                compared += 1
    assert compared == 16
    if data is HOSTILE:
        assert 'value="A &quot;&lt;b&gt;&quot; &amp; co"' in styled(forms[0]["name"])
        assert 'aria-invalid="true"' in styled(forms[1]["email"])
