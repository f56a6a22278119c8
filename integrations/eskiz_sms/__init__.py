"""Eskiz SMS integration (`eskiz_sms`)."""

from integrations.eskiz_sms.integration import EskizSmsIntegration, dispatch_id_for, user_sms_id_for

__all__ = ["EskizSmsIntegration", "dispatch_id_for", "user_sms_id_for"]
