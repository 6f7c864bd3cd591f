"""{% same_for_everyone %}: a template rendered once is the template as an include renders it."""
from django.template import Context, Template
from django.template.loader import render_to_string
from django.urls import set_script_prefix


def _rendered() -> str:
    return Template('{% load storefront %}{% same_for_everyone "chat/_launcher.html" %}').render(Context())


def test_the_chat_launcher_is_what_its_template_renders_and_follows_the_script_prefix():
    assert _rendered() == render_to_string("chat/_launcher.html")
    assert 'data-state-url="/chat/state/"' in _rendered()

    set_script_prefix("/shop/")
    try:
        assert 'data-state-url="/shop/chat/state/"' in _rendered()
        assert _rendered() == render_to_string("chat/_launcher.html")
    finally:
        set_script_prefix("/")
    assert 'data-state-url="/chat/state/"' in _rendered()
