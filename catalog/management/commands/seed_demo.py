"""`manage.py seed_demo --products N`: the demo catalog, created once and completed on re-runs."""
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from catalog.demo.seed import seed_demo_catalog


class Command(BaseCommand):
    # Help texts stay untranslated, like Django's own commands: argparse cannot take lazy strings.
    help = (
        "Create a believable demo catalog of N products (categories, brands, variants, stock, pictures). "
        "Idempotent: products that exist are kept, missing ones are added."
    )

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=300, help="How many demo products (default 300).")
        parser.add_argument("--no-images", action="store_true", help="Skip pictures (much faster).")
        parser.add_argument("--seed", type=int, default=1, help="Seed of the generator (default 1).")
        parser.add_argument("--customers", type=int, default=300,
                            help="How many demo customers, with a year of orders (default 300; 0 for none).")

    def handle(self, *args, products: int, no_images: bool, seed: int, customers: int, verbosity: int, **options):
        if products < 0:
            raise CommandError(_("--products must be zero or more."))
        if customers < 0:
            raise CommandError(_("--customers must be zero or more."))
        progress = (lambda line: self.stdout.write(f"  {line}")) if verbosity > 1 else None
        report = seed_demo_catalog(products=products, images=not no_images, seed=seed, progress=progress)
        self.stdout.write(self.style.SUCCESS(
            _(
                "Demo catalog: %(created)d products created (%(variants)d variants, %(stock)d stock levels, "
                "%(images)d images, %(drawn)d pictures drawn), %(present)d already present, in %(seconds).1f s."
            ) % {
                "created": report.created, "variants": report.variants, "stock": report.stock_levels,
                "images": report.images, "drawn": report.pictures_drawn, "present": report.already_present,
                "seconds": report.seconds,
            }
        ))
        if customers:
            from customers.demo import seed_demo_customers

            people = seed_demo_customers(count=customers, seed=seed)
            self.stdout.write(self.style.SUCCESS(
                _(
                    "Demo customers: %(created)d created (%(accounts)d with accounts, %(consents)d consenting "
                    "to marketing) with %(orders)d orders, in %(seconds).1f s."
                ) % {
                    "created": people.created, "accounts": people.accounts, "consents": people.consents,
                    "orders": people.orders, "seconds": people.seconds,
                }
            ))
        from pickup.demo import seed_demo_pickup_shops

        shops = seed_demo_pickup_shops()
        self.stdout.write(self.style.SUCCESS(_("Demo pick-up shops: %(count)d given opening hours.") % {"count": shops}))
        from chat.demo import seed_demo_chat

        faq, canned = seed_demo_chat()
        self.stdout.write(self.style.SUCCESS(
            _("Demo chat: %(faq)d FAQ entries and %(canned)d canned replies created.") % {"faq": faq, "canned": canned}
        ))
