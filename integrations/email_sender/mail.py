"""Building one e-mail: headers, a stable Message-ID, and a text part for HTML bodies."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import lru_cache
from html.parser import HTMLParser

from integrations.email_sender.config import SmtpConfig
from schemas.envelope import OutgoingMessage

_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"})
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_MAX_LINE = 998  # RFC 5322 §2.1.1
_SPACES = re.compile(r"\s+")
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title"})


def message_id(bulk_key: str, index: int, domain: str) -> str:
    """The same id for the same message of the same SendMessages call, on every re-send, so
    receiving servers and clients can recognise a duplicate."""
    digest = hashlib.sha256(f"{bulk_key}:{index}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(self._skipping - 1, 0)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(_SPACES.sub(" ", data))


def html_to_text(html: str) -> str:
    """A readable plain-text rendering: mail clients without HTML, and spam filters, want one."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).splitlines())
    text, blank = [], False
    for line in lines:
        if line or not blank:
            text.append(line)
        blank = not line
    return "\n".join(text).strip() + "\n"


@lru_cache(maxsize=1024)
def _header(name: str, value: str) -> bytes:
    """One header line as the email package folds and RFC 2047-encodes it. Cached: the same From,
    Reply-To and Subject repeat across a campaign, and header parsing is most of the build cost."""
    mail = EmailMessage(policy=SMTP)
    mail[name] = value
    return mail.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"


def _text_part(text: str, subtype: str) -> bytes:
    """A UTF-8 text part: 7bit when it is plain ASCII with short lines, else base64 (safe through
    any relay, with or without 8BITMIME)."""
    data = _LINE_ENDS.sub(b"\r\n", text.encode())
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.isascii() and max(map(len, data.split(b"\r\n"))) <= _MAX_LINE:
        encoding, body = "7bit", data
    else:
        encoding, body = "base64", base64.encodebytes(data).replace(b"\n", b"\r\n")  # of the CRLF form
    head = f"Content-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    return head.encode() + body


def build(config: SmtpConfig, message: OutgoingMessage, mid: str) -> bytes:
    """The message as it goes on the wire: CRLF line ends, non-ASCII headers encoded, for
    `is_html` a multipart/alternative with the text rendering first (RFC 2046 §5.1.4)."""
    head = [_header("From", str(config.sender)), f"To: {message.recipient}\r\n".encode()]
    if config.reply_to is not None:
        head.append(_header("Reply-To", str(config.reply_to)))
    head += [
        _header("Subject", message.subject or ""),
        f"Date: {format_datetime(datetime.now(UTC))}\r\nMessage-ID: {mid}\r\nMIME-Version: 1.0\r\n".encode(),
    ]
    if not message.is_html:
        return b"".join(head) + _text_part(message.message, "plain")
    boundary = f"=_{uuid.uuid4().hex}"
    delimiter = f"--{boundary}\r\n".encode()
    return b"".join(
        [
            *head,
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(),
            delimiter,
            _text_part(html_to_text(message.message), "plain"),
            delimiter,
            _text_part(message.message, "html"),
            f"--{boundary}--\r\n".encode(),
        ]
    )
