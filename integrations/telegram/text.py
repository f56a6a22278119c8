"""Text helpers for the Bot API: HTML escaping and splitting to Telegram's length limits.

The gateway formats its own notifications in `parse_mode=HTML`: every piece of text that comes
from REGOS or a user goes through `escape()`. Telegram counts lengths in UTF-16 code units
(an emoji outside the BMP counts 2), so the limits here are measured the same way.
"""

from __future__ import annotations

import html
import re

MAX_TEXT = 4096  # sendMessage text
MAX_CAPTION = 1024  # sendPhoto caption
PARSE_MODE = "HTML"
DIGEST_SEPARATOR = "\n\n"  # between the notifications of one digest message (valid in HTML and plain text)

_TAG = re.compile(r"<[^>]*>")


def escape(text: object) -> str:
    """Make any value safe inside an HTML-mode message (`&`, `<`, `>` and quotes)."""
    return html.escape(str(text), quote=True)


def html_to_plain(text: str) -> str:
    """The same message without markup, for a resend without `parse_mode`."""
    return html.unescape(_TAG.sub("", text))


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _fit(text: str, limit: int) -> int:
    """The largest index i such that text[:i] is at most `limit` UTF-16 units."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split plain text into parts of at most `limit` UTF-16 units.

    Cuts at the last line break in the second half of the window, else at the last space, else
    hard. Parts are never empty; a text that fits comes back as one part (even if empty).
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        end = _fit(rest, limit)
        window = rest[:end]
        cut = window.rfind("\n", end // 2)
        if cut <= 0:
            cut = window.rfind(" ", end // 2)
        if cut <= 0:
            cut = end
            parts.append(rest[:cut])
            rest = rest[cut:]
        else:
            parts.append(rest[:cut])
            rest = rest[cut + 1 :]  # drop the separator itself
    if rest or not parts:
        parts.append(rest)
    return parts


def split_for_photo(caption: str) -> tuple[str, list[str]]:
    """(caption of at most 1024 units, further text messages of at most 4096 units each)."""
    if utf16_len(caption) <= MAX_CAPTION:
        return caption, []
    first = split_text(caption, MAX_CAPTION)[0]
    rest = caption[len(first) :].lstrip("\n ")
    return first, split_text(rest, MAX_TEXT) if rest else []


def join_digest(texts: list[str]) -> str:
    """Several notifications as one message, in order."""
    return DIGEST_SEPARATOR.join(texts)


def pack_digests(lengths: list[int], limit: int = MAX_TEXT) -> list[list[int]]:
    """Consecutive texts (their UTF-16 lengths) grouped into messages of at most `limit` units once
    joined; a text is never cut, and one longer than `limit` stays alone (split when sent)."""
    sep = utf16_len(DIGEST_SEPARATOR)
    groups: list[list[int]] = []
    size = 0
    for n, length in enumerate(lengths):
        if groups and length <= limit and size + sep + length <= limit:
            groups[-1].append(n)
            size += sep + length
        else:
            groups.append([n])
            size = length if length <= limit else limit + 1  # an oversize text takes no company
    return groups
