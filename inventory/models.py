"""Stock across locations: the movement ledger, adjustments, counts, transfers and routing."""
