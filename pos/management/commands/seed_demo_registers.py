"""`manage.py seed_demo_registers`: a till in every demo shop; `make demo` runs it."""
from django.core.management.base import BaseCommand

from pos.demo import seed_demo_registers


class Command(BaseCommand):
    help = "Create a register (\"Till 1\") in every active shop that has none. Idempotent."

    def handle(self, *args, **options):
        created = seed_demo_registers()
        self.stdout.write(self.style.SUCCESS(f"Demo registers: {created} created."))
