"""Writes for stock across locations: one module per use case, all re-exported here."""
from .adjustments import AdjustmentRequest, adjust_stock, apply_stock_count  # noqa: F401
from .transfers import (  # noqa: F401
    TransferRequest,
    cancel_transfer,
    create_transfer,
    receive_transfer,
    record_draft_edit,
    ship_transfer,
)
from .routing import move_allocation, set_routing_policy  # noqa: F401
