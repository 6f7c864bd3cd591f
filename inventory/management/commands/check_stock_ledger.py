"""`manage.py check_stock_ledger`: prove the movement ledger adds up to every stock level.

Exits 0 and says so when it does; otherwise lists each variant and location that differs and
exits 1, so a cron job or CI step fails loudly.
"""
from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import ledger_discrepancies


class Command(BaseCommand):
    help = "Check that the stock movement ledger adds up to the on-hand stock of every variant and location."

    def handle(self, *args, **options) -> None:
        wrong = ledger_discrepancies()
        if wrong:
            for discrepancy in wrong:
                self.stderr.write(str(discrepancy))
            raise CommandError(f"{len(wrong)} stock level(s) differ from the ledger.")
        self.stdout.write(self.style.SUCCESS("The stock ledger adds up to every stock level."))
