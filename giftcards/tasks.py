"""Gift card tasks: thin wrappers over services, which make each delivery happen once."""
from __future__ import annotations

from celery import shared_task

from . import services


@shared_task
def deliver_gift_card_task(card_id: int) -> None:
    services.deliver_gift_card(card_id=card_id)


@shared_task
def deliver_due_gift_cards_task() -> None:
    """Every minute (beat, or the web process's thread without a broker): cards whose date has
    come, and any whose immediate delivery failed."""
    services.deliver_due_gift_cards()
