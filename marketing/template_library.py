"""The only tags and filters a campaign template may use (the `builtins` of rendering.ENGINE).

Staff write campaign templates in the admin, so they get formatting and logic, and nothing that
reaches past the context they are given: no `{% debug %}` (it prints the context and the loaded
modules), no `{% include %}`/`{% extends %}` (other templates, with whatever they show), no
`{% load %}` (any tag library), no `{% url %}` or `{% csrf_token %}`. Every default filter is
harmless over the plain values the context holds, so all of them stay.
"""
from django.template import Library, defaultfilters, defaulttags

ALLOWED_TAGS = (
    "autoescape", "comment", "cycle", "filter", "firstof", "for", "if", "ifchanged", "lorem", "now",
    "regroup", "resetcycle", "spaceless", "templatetag", "verbatim", "widthratio", "with",
)

register = Library()
for _name in ALLOWED_TAGS:
    register.tag(_name, defaulttags.register.tags[_name])
register.filters.update(defaultfilters.register.filters)
