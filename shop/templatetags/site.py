"""`{% load site %}`: `{{ path|absolute_url }}` puts the store's public address in front (shop/site.py).

For links a page gives to the outside (canonical, Open Graph): they name SITE_URL whatever host
the request came in on.
"""
from django import template

from shop import site

register = template.Library()


@register.filter
def absolute_url(path: str) -> str:
    return site.absolute_url(path)
