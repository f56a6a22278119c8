"""References (OperatingCash, Stock, ...)."""
