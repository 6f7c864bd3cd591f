"""`manage.py send_pending_emails`: the outbox's retry loop once, for cron."""
from django.core.management.base import BaseCommand

from notifications.services import SEND_DUE_LIMIT, send_due_emails


class Command(BaseCommand):
    help = (
        "Send every outbox email whose next attempt is due (a failed one after its backoff, or one "
        "whose task was lost). The web process's background thread (no broker) and beat (broker) run "
        "the same loop every minute; this is for cron when neither runs. Safe alongside them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=SEND_DUE_LIMIT,
                            help=f"Send at most this many (default {SEND_DUE_LIMIT}); the next run goes on.")

    def handle(self, *args, limit: int, **options):
        run = send_due_emails(limit=limit)
        self.stdout.write(f"{run.sent} email(s) sent, {run.failed} failed.")
        if run.stopped:
            self.stderr.write(f"Stopped: the mail server cannot be reached ({run.stopped}). "
                              "The rest are tried at the next run.")
