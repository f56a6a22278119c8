"""Documented examples of the services the gateway talks to, parsed by its own models."""
