"""Create the first back-office account once, printing how to sign in (its generated password
that one time)."""
import secrets

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create a superuser with a generated password, unless a staff account already exists."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args, username: str, email: str, **options):
        User = get_user_model()
        email = email.strip().lower()
        with transaction.atomic():
            if User.objects.filter(is_staff=True).exists():
                self.stdout.write("A staff account already exists: sign in at /admin/ with its email address "
                                  "(the password was printed when it was created).")
                return
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=username, email=email, password=password)
            # Everybody signs in by a verified email address; whoever runs this command owns this one.
            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        self.stdout.write(self.style.SUCCESS(
            f"Back office sign-in at /admin/ (shown once, write it down): email '{email}', password '{password}'"
        ))
        if not settings.DEBUG:
            self.stdout.write("Superusers set up an authenticator app (two-factor sign-in) when they first sign in.")
