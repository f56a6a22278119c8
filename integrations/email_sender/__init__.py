"""E-mail over SMTP: `SendMessages` through each connected integration's own relay."""

from integrations.email_sender.integration import EmailSenderIntegration

__all__ = ["EmailSenderIntegration"]
