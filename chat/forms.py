from django import forms
from django.utils.translation import gettext_lazy as _

from .models import MESSAGE_MAX_LENGTH


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Your email"), help_text=_("We answer here by email."))
    message = forms.CharField(label=_("Message"), max_length=MESSAGE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 6}))


class ReplyForm(forms.Form):
    message = forms.CharField(label=_("Your answer"), max_length=MESSAGE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 4}))


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(label=_("Rating"), coerce=int, choices=[(i, str(i)) for i in range(1, 6)],
                                    widget=forms.RadioSelect)
    comment = forms.CharField(label=_("Comment (optional)"), max_length=500, required=False)


class PresenceForm(forms.Form):
    """The inbox's Online/Away switch."""

    AWAY_FOR = [("", _("until I switch back")), ("15", _("15 minutes")), ("30", _("30 minutes")),
                ("60", _("1 hour")), ("120", _("2 hours"))]

    status = forms.ChoiceField(label=_("I am"), choices=[("online", _("Online")), ("away", _("Away"))])
    away_for = forms.TypedChoiceField(label=_("if away, for"), choices=AWAY_FOR, coerce=int, empty_value=None,
                                      required=False)
