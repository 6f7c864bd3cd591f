"""A guest's conversations join the customer on sign-in (any view that calls `login`); the chat
settings' cache is cleared when they change."""
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .identity import visitor_key


@receiver(user_logged_in, dispatch_uid="chat.attach_visitor_conversations")
def _attach_on_sign_in(sender, request, user, **kwargs) -> None:
    if request is None:
        return
    from .services import attach_visitor_conversations

    attach_visitor_conversations(visitor_key=visitor_key(request), user=user)


@receiver([post_save, post_delete], sender="chat.ChatSettings", dispatch_uid="chat.forget_settings")
def _forget_settings(sender, **kwargs) -> None:
    from . import config

    # Now, and again after commit: a read between the two would cache the row being replaced.
    config.forget()
    transaction.on_commit(config.forget)
