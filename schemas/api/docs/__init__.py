"""Documents (DocCheque, DocCashSession, ...)."""
