"""Create the first back-office account once, printing its generated password that one time."""
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create a superuser 'admin' with a generated password, unless a staff account already exists."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args, username: str, email: str, **options):
        User = get_user_model()
        with transaction.atomic():
            if User.objects.filter(is_staff=True).exists():
                self.stdout.write("A staff account already exists; its password was printed when it was created.")
                return
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email=email, password=password)
        self.stdout.write(self.style.SUCCESS(
            f"Back office login (shown once, write it down): username '{username}', password '{password}'"
        ))
