"""A guest's conversations join the customer on sign-in (any view that calls `login`)."""
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .identity import visitor_key


@receiver(user_logged_in, dispatch_uid="chat.attach_visitor_conversations")
def _attach_on_sign_in(sender, request, user, **kwargs) -> None:
    if request is None:
        return
    from .services import attach_visitor_conversations

    attach_visitor_conversations(visitor_key=visitor_key(request), user=user)
