"""Write the buffered events, then recompute the daily figures of the last N days (store time zone).

For a first install, or after the rules of a figure changed: `manage.py rollup_analytics --days 400`.
Safe to run at any time, alongside the hourly task (each day is replaced in one transaction).
"""
from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand

from analytics import services


class Command(BaseCommand):
    help = "Flush buffered events and recompute the daily figures of the last N days."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90, help="how many days back from yesterday (default 90)")

    def handle(self, *args, days: int, **options):
        written = services.flush_events()
        today = services.store_today()
        for n in range(days, 0, -1):
            services.rollup_day(day=today - datetime.timedelta(days=n))
        self.stdout.write(f"{written} buffered events written; {days} days rolled up.")
