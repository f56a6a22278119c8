"""Validation of SendMessages items, shared by the ingress (to answer 422 early) and the workers.

Pure functions: the ingress imports this module, so it must not import any client.
One bad item never blocks a blast: valid items go on, each invalid one is reported by index.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import email_validator

from schemas.envelope import InvalidItem, OutgoingMessage

MAX_TEXT_CHARS = 10_000
_PHONE_JUNK = re.compile(r"[\s\-()+.]")
_CHAT_ID = re.compile(r"^(-?\d{1,20}|@[A-Za-z0-9_]{5,32})$")

Validator = Callable[[Any], tuple[list[OutgoingMessage], list[InvalidItem]]]


def normalize_uz_phone(raw: str) -> str | None:
    """`+998 90 123-45-67` → `998901234567`; None when it is not an Uzbek mobile number."""
    digits = _PHONE_JUNK.sub("", raw)
    if len(digits) == 9 and digits.isdigit():
        digits = "998" + digits
    return digits if len(digits) == 12 and digits.isdigit() and digits.startswith("998") else None


def normalize_chat_id(raw: str) -> str | None:
    value = raw.strip()
    return value if _CHAT_ID.match(value) else None


def _validate(
    data: Any, normalize: Callable[[str], str | None], what: str, allow_image: bool
) -> tuple[list[OutgoingMessage], list[InvalidItem]]:
    if not isinstance(data, list):
        raise ValueError("data must be an array of {recipient, message} objects")
    if not data:
        raise ValueError("data is an empty array: nothing to send")
    valid: list[OutgoingMessage] = []
    invalid: list[InvalidItem] = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            invalid.append(InvalidItem(index=index, reason="item is not an object"))
            continue
        recipient, text = item.get("recipient"), item.get("message")
        image = item.get("image_url") if allow_image else None
        if recipient is None or (isinstance(recipient, str) and not recipient.strip()):
            invalid.append(InvalidItem(index=index, reason="recipient is missing"))
        elif not isinstance(recipient, str | int) or isinstance(recipient, bool):
            invalid.append(InvalidItem(index=index, reason="recipient must be a string"))
        elif (normalized := normalize(str(recipient))) is None:
            invalid.append(InvalidItem(index=index, reason=f"recipient is not a valid {what}"))
        elif not isinstance(text, str) or not text.strip():
            if image and isinstance(image, str):
                valid.append(OutgoingMessage(index=index, recipient=normalized, message="", image_url=image))
            else:
                invalid.append(InvalidItem(index=index, reason="message is missing or empty"))
        elif len(text) > MAX_TEXT_CHARS:
            invalid.append(InvalidItem(index=index, reason=f"message is longer than {MAX_TEXT_CHARS} characters"))
        else:
            valid.append(
                OutgoingMessage(
                    index=index, recipient=normalized, message=text, image_url=image if isinstance(image, str) else None
                )
            )
    return valid, invalid


def validate_sms(data: Any) -> tuple[list[OutgoingMessage], list[InvalidItem]]:
    return _validate(data, normalize_uz_phone, "Uzbek phone number (998 and 9 digits)", allow_image=False)


def validate_telegram(data: Any) -> tuple[list[OutgoingMessage], list[InvalidItem]]:
    return _validate(data, normalize_chat_id, "Telegram chat id", allow_image=True)


MAX_EMAIL_BODY_CHARS = 500_000
MAX_SUBJECT_CHARS = 500
_EMAIL_FIELDS = frozenset({"recipient", "message", "subject", "is_html"})
_WHITESPACE = re.compile(r"\s+")


def normalize_email(raw: str) -> str | None:
    """`Ali@Example.COM` → `Ali@example.com` (IDN domains as punycode); None when not an address.

    Syntax only (no DNS at the ingress); non-ASCII local parts are refused because delivering
    them needs SMTPUTF8 from every relay on the way.
    """
    try:
        checked = email_validator.validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except email_validator.EmailNotValidError:
        return None
    return checked.ascii_email or checked.normalized


def _email_item(index: int, item: Any) -> OutgoingMessage | InvalidItem:
    if not isinstance(item, dict):
        return InvalidItem(index=index, reason="item is not an object")
    recipient, text, subject, is_html = (item.get(k) for k in ("recipient", "message", "subject", "is_html"))
    if not isinstance(recipient, str) or not recipient.strip():
        return InvalidItem(index=index, reason="recipient is missing or not a string")
    if (address := normalize_email(recipient)) is None:
        return InvalidItem(index=index, reason="recipient is not a valid e-mail address")
    if not isinstance(text, str) or not text.strip():
        return InvalidItem(index=index, reason="message is missing or empty")
    if len(text) > MAX_EMAIL_BODY_CHARS:
        return InvalidItem(index=index, reason=f"message is longer than {MAX_EMAIL_BODY_CHARS} characters")
    if subject is not None and not isinstance(subject, str):
        return InvalidItem(index=index, reason="subject must be a string")
    if is_html is not None and not isinstance(is_html, bool):
        return InvalidItem(index=index, reason="is_html must be true or false")
    # One line: a line break in a header would let the item inject headers of its own.
    subject = _WHITESPACE.sub(" ", subject).strip()[:MAX_SUBJECT_CHARS] if subject else None
    extra = {k: v for k, v in item.items() if k not in _EMAIL_FIELDS}
    return OutgoingMessage(
        index=index, recipient=address, message=text, subject=subject or None, is_html=is_html, extra=extra or None
    )


def validate_email(data: Any) -> tuple[list[OutgoingMessage], list[InvalidItem]]:
    """E-mail items `{recipient, message, subject?, is_html?, ...}`; other fields are echoed back."""
    if not isinstance(data, list):
        raise ValueError("data must be an array of {recipient, message, subject?, is_html?} objects")
    if not data:
        raise ValueError("data is an empty array: nothing to send")
    checked = [_email_item(index, item) for index, item in enumerate(data)]
    return [c for c in checked if isinstance(c, OutgoingMessage)], [c for c in checked if isinstance(c, InvalidItem)]
