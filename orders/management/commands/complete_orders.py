"""`manage.py complete_orders`: complete, once, every shipped order past its return window."""
from django.core.management.base import BaseCommand, CommandError

from orders.services import complete_orders, due_for_completion


class Command(BaseCommand):
    help = (
        "Complete every shipped order whose return window is over and that has no open return and no "
        "pending refund (orders/services/completion.py). Beat, or the web process's background thread "
        "without a broker, runs the same hourly; this is for cron, or to clear the backlog once after an "
        "upgrade. Safe alongside them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None,
                            help="Complete at most this many (default: all that are due); the next run goes on.")
        parser.add_argument("--dry-run", action="store_true", help="Only say how many are due; change nothing.")

    def handle(self, *args, limit: int | None, dry_run: bool, **options):
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        if dry_run:
            self.stdout.write(f"{due_for_completion().count()} order(s) would be completed.")
            return
        self.stdout.write(f"{complete_orders(limit=limit)} order(s) completed.")
