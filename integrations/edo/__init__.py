"""Pieces both EDO integrations (Didox, Faktura.uz) share: models, token cache, import/export flows."""
