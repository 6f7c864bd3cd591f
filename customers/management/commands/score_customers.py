"""`manage.py score_customers`: refresh every customer's order figures, then the RFM scores."""
from django.core.management.base import BaseCommand

from customers.services.rfm import score_customers
from customers.services.stats import refresh_customer_stats


class Command(BaseCommand):
    help = "Recompute every customer's order figures and RFM scores and segments (the nightly task, now)."

    def add_arguments(self, parser):
        parser.add_argument("--skip-figures", action="store_true",
                            help="Score on the stored figures without recomputing them from the orders.")

    def handle(self, *args, skip_figures: bool, **options):
        refreshed = 0 if skip_figures else refresh_customer_stats()
        result = score_customers()
        segments = ", ".join(f"{name} {count}" for name, count in sorted(result["segments"].items())) or "none"
        self.stdout.write(self.style.SUCCESS(
            f"{refreshed} customers' figures updated; {result['scored']} customers scored, "
            f"{result['changed']} changed ({segments})."
        ))
