"""GetSMS integration (`getsms`)."""

from integrations.getsms.integration import GetSmsIntegration

__all__ = ["GetSmsIntegration"]
