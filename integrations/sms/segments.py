"""SMS segment counting (what a message costs), per GSM 03.38 / 3GPP TS 23.040.

- Text made only of GSM-7 characters: 160 septets in one SMS, 153 per part when concatenated
  (the user data header takes 7). Characters of the extension table (`^ { } \\ [ ~ ] | €` and
  form feed) are sent as ESC + char and count as two septets; an escape pair is never split
  across parts.
- Anything else is sent as UCS-2: 70 UTF-16 code units in one SMS, 67 per part; a surrogate
  pair (emoji) counts as two units and is never split across parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def encoding_of(text: str) -> Encoding:
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "UCS-2"


def _pack(widths: list[int], single: int, part: int) -> int:
    total = sum(widths)
    if total <= single:
        return 1
    parts, used = 1, 0
    for width in widths:  # greedy: a character (escape pair, surrogate pair) never straddles parts
        if used + width > part:
            parts += 1
            used = 0
        used += width
    return parts


def segment_info(text: str) -> SegmentInfo:
    if encoding_of(text) == "GSM-7":
        widths = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return SegmentInfo("GSM-7", sum(widths), _pack(widths, GSM7_SINGLE, GSM7_PART))
    widths = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SegmentInfo("UCS-2", sum(widths), _pack(widths, UCS2_SINGLE, UCS2_PART))


def count_segments(text: str) -> int:
    """Number of SMS parts `text` is billed as (an empty text still takes one SMS)."""
    return segment_info(text).segments
