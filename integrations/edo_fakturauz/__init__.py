from integrations.edo_fakturauz.integration import FakturaUzIntegration

__all__ = ["FakturaUzIntegration"]
