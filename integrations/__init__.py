"""Integrations: base classes, the registry, and one package per integration."""
