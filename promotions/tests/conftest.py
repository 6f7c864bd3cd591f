from checkout.tests.conftest import shipping  # noqa: F401  (the checkout's shipping rules)
