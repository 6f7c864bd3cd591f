"""Back office: the customer list and the customer page."""
