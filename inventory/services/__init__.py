"""Writes for stock across locations: one module per use case, all re-exported here."""
from .adjustments import AdjustmentRequest, adjust_stock, apply_stock_count  # noqa: F401
