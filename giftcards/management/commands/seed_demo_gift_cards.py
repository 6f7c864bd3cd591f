"""`manage.py seed_demo_gift_cards`: the demo store's gift card products ($25, $50, $100); `make demo` runs it."""
from django.core.management.base import BaseCommand

from giftcards.demo import seed_demo_gift_cards


class Command(BaseCommand):
    help = "Create the demo gift card products ($25, $50, $100) that are missing. Idempotent."

    def handle(self, *args, **options):
        created = seed_demo_gift_cards()
        self.stdout.write(self.style.SUCCESS(f"Demo gift cards: {created} products created."))
