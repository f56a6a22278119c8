"""REGOS retail events and SendMessages to Telegram chats (key `regos_telegram_notifier`,
alias `telegram_bot_notification`)."""

from integrations.regos_telegram_notifier.integration import TelegramNotifierIntegration

__all__ = ["TelegramNotifierIntegration"]
