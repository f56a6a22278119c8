# ruff: noqa: RUF001 - Russian message texts
"""Human messages for shop owners (Russian labels), in Telegram HTML with escaped REGOS text.

Amounts: `1 250 000.00` (space as thousands separator). Times: Tashkent (UTC+5, no DST).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from integrations.telegram.text import escape
from schemas.api.docs.cash_session import CashSession
from schemas.api.docs.cheque import Cheque

TASHKENT = timezone(timedelta(hours=5), "Asia/Tashkent")
MAX_FIELD = 200  # REGOS text fields are cut so a notification always fits one message

CHEQUE_CLOSED = "DocChequeClosed"
CHEQUE_CANCELED = "DocChequeCanceled"
SESSION_OPENED = "DocSessionOpened"
SESSION_CLOSED = "DocSessionClosed"

TITLES = {
    CHEQUE_CLOSED: "🧾 Чек закрыт",
    CHEQUE_CANCELED: "❌ Чек отменён",
    SESSION_OPENED: "🟢 Смена открыта",
    SESSION_CLOSED: "🔴 Смена закрыта",
}
CHEQUE_EVENTS = frozenset({CHEQUE_CLOSED, CHEQUE_CANCELED})
SESSION_EVENTS = frozenset({SESSION_OPENED, SESSION_CLOSED})


def money(value: Decimal | float | int | str | None) -> str:
    """1250000 → `1 250 000.00`; None → `—`."""
    if value is None:
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return escape(value)
    return f"{amount:,.2f}".replace(",", " ")


def tashkent_time(unix_seconds: int | None) -> str:
    """Unix seconds → `26.11.2026 10:00` in Tashkent; None → `—`."""
    if unix_seconds is None:
        return "—"
    return datetime.fromtimestamp(unix_seconds, TASHKENT).strftime("%d.%m.%Y %H:%M")


def _field(value: object) -> str:
    text = str(value)
    if len(text) > MAX_FIELD:
        text = text[: MAX_FIELD - 1] + "…"
    return escape(text)


def _stock_line(stock_name: str | None) -> list[str]:
    return [f"Магазин: {_field(stock_name)}"] if stock_name else []


def cheque_message(event: str, cheque: Cheque, *, stock_name: str | None = None) -> str:
    lines = [f"<b>{TITLES[event]}</b> № <code>{_field(cheque.code)}</code>"]
    if cheque.is_return:
        lines.append("↩️ <b>Возврат</b>")
    lines.append(f"Сумма: <b>{money(cheque.amount)}</b>")
    lines.append(f"Дата: {tashkent_time(cheque.date)} (Ташкент)")
    lines.extend(_stock_line(stock_name))
    return "\n".join(lines)


def session_message(event: str, session: CashSession, *, stock_name: str | None = None) -> str:
    lines = [f"<b>{TITLES[event]}</b> № <code>{_field(session.code)}</code>"]
    lines.extend(_stock_line(stock_name))
    lines.append(f"Касса: {session.operating_cash_id}")
    lines.append(f"Открыта: {tashkent_time(session.start_date)} (Ташкент)")
    lines.append(f"Сумма на начало: {money(session.start_amount)}")
    if event == SESSION_CLOSED or session.closed:
        lines.append(f"Закрыта: {tashkent_time(session.close_date)} (Ташкент)")
        lines.append(f"Сумма на конец: <b>{money(session.close_amount)}</b>")
    return "\n".join(lines)


def not_found_message(event: str, uuid: str) -> str:
    return f"<b>{TITLES[event]}</b> — документ <code>{_field(uuid)}</code> не найден в REGOS"


SUBSCRIBED = "✅ Вы подписаны на уведомления REGOS. Отписаться: /stop"
ALREADY_SUBSCRIBED = "✅ Вы уже подписаны на уведомления REGOS. Отписаться: /stop"
UNSUBSCRIBED = "🔕 Вы отписаны от уведомлений REGOS. Подписаться снова: /start"
