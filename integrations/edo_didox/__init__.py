from integrations.edo_didox.integration import DidoxIntegration

__all__ = ["DidoxIntegration"]
