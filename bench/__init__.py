"""`make bench`: load-test the storefront against a bare Django view (see bench/run.py)."""


def setup_django() -> None:
    """Start Django in a bench side process (its settings come from the environment run.py set);
    the caller has put the project on sys.path, as it must to import this."""
    import logging

    import django

    django.setup()
    # Eager Celery (no broker) still builds a producer for each task it runs in place, and kombu
    # warns that the empty broker URL means localhost; nothing connects. Not the bench's news.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
