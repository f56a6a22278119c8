from __future__ import annotations

import pytest

from integrations.sms.segments import count_segments, encoding_of, segment_info


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("Hello", "GSM-7", 1),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("Привет", "UCS-2", 1),
        ("п" * 70, "UCS-2", 1),
        ("п" * 71, "UCS-2", 2),
        ("п" * 134, "UCS-2", 2),
        ("п" * 135, "UCS-2", 3),
        ("a" * 159 + "ж", "UCS-2", 3),  # one Cyrillic letter turns the whole text into UCS-2
        ("O\u2018zbekiston", "UCS-2", 1),  # U+2018 (the Uzbek o-apostrophe) is not GSM-7
        ("€" * 80, "GSM-7", 1),  # 160 septets: extension characters count double
        ("€" * 81, "GSM-7", 2),
        ("[]" * 40 + "a", "GSM-7", 2),
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 3),  # 306 septets, but an escape pair never straddles parts
        ("😀" * 35, "UCS-2", 1),  # surrogate pairs: 2 units each
        ("😀" * 36, "UCS-2", 2),
        ("", "GSM-7", 1),
    ],
)
def test_segments(text: str, encoding: str, segments: int) -> None:
    assert encoding_of(text) == encoding
    assert count_segments(text) == segments


def test_segment_info_units() -> None:
    assert segment_info("a{b").units == 4
    assert segment_info("Ёж").units == 2
