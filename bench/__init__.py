"""`make bench`: load-test the storefront against a bare Django view (see bench/run.py)."""
