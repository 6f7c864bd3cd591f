"""A guest's conversations join the customer on sign-in (any view that calls `login`); the chat
settings' cache is cleared when they change; a draft order started from a conversation posts its
payment link there once placed."""
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


@receiver(post_save, sender="stafforders.DraftOrder", dispatch_uid="chat.post_draft_payment_link")
def _draft_placed(sender, instance, update_fields=None, **kwargs) -> None:
    """`stafforders.services.place_draft` saves the draft with its new status inside the placement's
    transaction; after it commits (never if it rolls back) the payment link goes to the
    conversation the draft was started from (`actions.post_draft_payment_link`, idempotent)."""
    if (not instance.conversation_id or instance.status != instance.Status.PLACED
            or instance.payment != instance.Payment.LINK):
        return
    if update_fields is not None and "status" not in update_fields:
        return
    from .actions import post_draft_payment_link

    draft_id = instance.pk
    transaction.on_commit(lambda: post_draft_payment_link(draft_id=draft_id))
