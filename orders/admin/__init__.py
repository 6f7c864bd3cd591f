"""The order back office: a fast order list, an order page that only shows, and buttons that act.

Nothing on an order is edited by hand: totals, statuses and payments change only through the
services in `orders.services` and `payments.services`, called by the buttons on the order page
(`orders/admin/orders.py`). Users with `orders.change_order` see and use the buttons; everyone
else who may view orders (the Support group) sees the same page without them.
"""
# Importing the module registers the admin with the default site.
from . import orders  # noqa: F401
