"""Reads about customers, one module per area (crm: the back-office customer page and list;
segments: segment membership and figures; account: the shopper's own pages)."""
