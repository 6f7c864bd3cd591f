"""The only tags and filters a campaign template may use (the `builtins` of rendering.ENGINE).

Staff write campaign templates in the admin, so they get formatting and logic, and nothing that
reaches past the context they are given: no `{% debug %}` (it prints the context and the loaded
modules), no `{% include %}`/`{% extends %}` (other templates, with whatever they show), no
`{% load %}` (any tag library), no `{% url %}` or `{% csrf_token %}`. Nothing that makes a
rendering as large as a number typed into it (`{% lorem 100000000 %}`, `|ljust:"1000000000"`,
`|stringformat:"1000000000s"`): templates are rendered in the admin's request when saved and
previewed, and once per recipient. The other default filters are harmless over plain values.
"""
from django.template import Library, defaultfilters, defaulttags

ALLOWED_TAGS = (
    "autoescape", "comment", "cycle", "filter", "firstof", "for", "if", "ifchanged", "now",
    "regroup", "resetcycle", "spaceless", "templatetag", "verbatim", "widthratio", "with",
)

register = Library()
for _name in ALLOWED_TAGS:
    register.tag(_name, defaulttags.register.tags[_name])
SIZED_FILTERS = ("center", "ljust", "rjust", "stringformat")
register.filters.update({name: function for name, function in defaultfilters.register.filters.items()
                         if name not in SIZED_FILTERS})
