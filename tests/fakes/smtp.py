"""A real SMTP server on 127.0.0.1 (aiosmtpd in a thread) with knobs for the failure cases.

Modes: plain, STARTTLS (RFC 3207) or implicit TLS (RFC 8314 §3.3), each optionally with AUTH
PLAIN/LOGIN (RFC 4954). Strict like a real submission server: with credentials set, MAIL before
a successful AUTH is refused with 530 5.7.0 (RFC 4954 §6), wrong credentials with 535 5.7.8
(RFC 4954 §6), and on the STARTTLS server AUTH before STARTTLS with 538 5.7.11 (RFC 4954 §6,
aiosmtpd's `auth_require_tls`). Replies follow RFC 5321 §4.2 (2xx done, 4xx try later, 5xx
failed for good).

Knobs: `answer_rcpt(address, "450 4.2.1 ...", times)` for chosen recipients, `hang_data` (the
final DATA reply is withheld for so many seconds), `drop_after_data(times)` (the message is
received and kept — the relay may have taken it — then the connection closes before the reply).
`delivered` holds every message the server received, parsed.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import re
import ssl
import threading
from collections import Counter
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

Mode = Literal["none", "starttls", "tls"]
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)
logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd logs every command, and warns per session


def make_certificate(directory: Path, name: str = "smtp") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost: (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test {name} relay")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @cached_property
    def mail(self) -> EmailMessage:  # parsed on demand: the benchmark receives 10,000 of them
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]

    @cached_property
    def message_id(self) -> str:
        found = _MESSAGE_ID.search(self.raw.split(b"\r\n\r\n", 1)[0])
        return found.group(1).decode() if found else ""


class _Handler:
    def __init__(self, fake: FakeSmtp) -> None:
        self.fake = fake

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        scripted = self.fake._take_rcpt_answer(address)
        if scripted is not None:
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fake = self.fake
        delivered = Delivered(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
        with fake.lock:
            fake.delivered.append(delivered)
            drop = fake._drops > 0
            fake._drops -= drop
        if drop:  # received, then the connection dies before the reply: the sender cannot know
            server.transport.close()
            return "250 2.0.0 never seen by the client"
        if fake.hang_data:
            await asyncio.sleep(fake.hang_data)
        return f"250 2.0.0 Ok: queued as {len(fake.delivered)}"


class FakeSmtp:
    def __init__(
        self,
        *,
        mode: Mode = "none",
        credentials: tuple[str, str] | None = None,
        certificate: tuple[Path, Path] | None = None,
        port: int = 0,
    ) -> None:
        self.mode = mode
        self.credentials = credentials
        self.lock = threading.RLock()
        self.delivered: list[Delivered] = []
        self.logins: list[str] = []  # user names that logged in (never passwords)
        self.hang_data = 0.0
        self._drops = 0
        self._rcpt_answers: dict[str, list[Any]] = {}  # address → [reply, remaining or None]
        tls = None
        if mode != "none":
            assert certificate is not None, "TLS modes need a certificate"
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(*certificate)
        kwargs: dict[str, Any] = {}
        if credentials:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=mode != "none")
        if mode == "starttls":
            kwargs.update(tls_context=tls, require_starttls=True)
        self._controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=port or _free_port(),
            ssl_context=tls if mode == "tls" else None,
            server_hostname="localhost",
            ready_timeout=10,
            **kwargs,
        )

    # --- knobs ---------------------------------------------------------------------------
    def answer_rcpt(self, address: str, reply: str, times: int | None = None) -> None:
        """RCPT TO:<address> gets `reply` (e.g. "550 5.1.1 no such user") `times` times (None: always)."""
        with self.lock:
            self._rcpt_answers[address.lower()] = [reply, times]

    def drop_after_data(self, times: int = 1) -> None:
        with self.lock:
            self._drops += times

    def clear_faults(self) -> None:
        with self.lock:
            self._rcpt_answers.clear()
            self._drops = 0
            self.hang_data = 0.0

    def _take_rcpt_answer(self, address: str) -> str | None:
        with self.lock:
            scripted = self._rcpt_answers.get(address.lower())
            if scripted is None:
                return None
            if scripted[1] is not None:
                scripted[1] -= 1
                if scripted[1] <= 0:
                    del self._rcpt_answers[address.lower()]
            return scripted[0]

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.credentials is not None
            and (data.login.decode(), data.password.decode()) == self.credentials
        )
        if ok:
            with self.lock:
                self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)

    # --- what arrived --------------------------------------------------------------------
    def to(self, address: str) -> list[Delivered]:
        with self.lock:
            return [d for d in self.delivered if address in d.rcpt_tos]

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(d.message_id for d in self.delivered)

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self._controller.port

    def start(self) -> FakeSmtp:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    """Run a plain fake in the foreground: `python -m tests.fakes.smtp --port 9105`."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=9105)
    args = parser.parse_args()
    fake = FakeSmtp(port=args.port).start()
    print(f"fake SMTP on {fake.host}:{fake.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
