"""Back-office forms for campaigns: the campaign itself (its templates checked when saved) and
the address of a test send."""
from __future__ import annotations

from django import forms
from django.template import TemplateSyntaxError
from django.utils.translation import gettext_lazy as _

from .models import Campaign
from .rendering import check_template

PLACEHOLDER_HELP = _(
    "A template: {{ customer.first_name }}, {{ customer.last_name }}, {{ customer.full_name }}, "
    "{{ picks }} (up to four products picked for each customer; or {% for pick in picks %}{{ pick.title }} "
    "{{ pick.price }} {{ pick.url }}{% endfor %}), {{ unsubscribe_url }}, {{ store_name }}, {{ site_url }}. "
    "Tags such as {% if %} and {% for %} and filters such as |default:\"there\" work."
)


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "segment", "subject", "html_body", "text_body"]
        widgets = {
            "html_body": forms.Textarea(attrs={"rows": 16, "cols": 100}),
            "text_body": forms.Textarea(attrs={"rows": 10, "cols": 100}),
        }
        help_texts = {
            "subject": PLACEHOLDER_HELP,
            "html_body": _("Paragraphs, headings, lists, links and tables; scripts, styles and images are removed "
                           "before sending. The unsubscribe link is added at the bottom of every email."),
        }

    def clean_subject(self) -> str:
        return self._checked("subject")

    def clean_html_body(self) -> str:
        return self._checked("html_body")

    def clean_text_body(self) -> str:
        return self._checked("text_body")

    def _checked(self, name: str) -> str:
        source = self.cleaned_data.get(name, "")
        try:
            check_template(source)
        except TemplateSyntaxError as error:
            raise forms.ValidationError(str(error), code="template") from error
        return source


class SendTestForm(forms.Form):
    to = forms.EmailField(label=_("Send a test to"), max_length=254)
