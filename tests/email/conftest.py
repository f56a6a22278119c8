"""SMTP fakes for the e-mail tests: plain + AUTH, STARTTLS + AUTH with a certificate the
worker trusts, and implicit TLS with a certificate it does not.

Trust goes the way production adds a private relay's CA: `SSL_CERT_FILE` (the system bundle
plus the test certificate), set here at import — before the session's worker starts, so the
worker inherits it — and read by the integration through the default CA store.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.smtp import FakeSmtp, make_certificate

USER, PASSWORD = "shop@example.com", "smtp-pw-Planted-7c1e"
_CERTS = Path(tempfile.mkdtemp(prefix="smtp-certs-"))
TRUSTED = make_certificate(_CERTS, "trusted")
UNTRUSTED = make_certificate(_CERTS, "untrusted")


def _trust(cert: Path) -> None:
    system = Path(os.environ.get("SSL_CERT_FILE") or ssl.get_default_verify_paths().openssl_cafile or "")
    bundle = _CERTS / "bundle.pem"
    bundle.write_bytes((system.read_bytes() if system.is_file() else b"") + b"\n" + cert.read_bytes())
    os.environ["SSL_CERT_FILE"] = str(bundle)


_trust(TRUSTED[0])


def smtp_settings(fake: FakeSmtp, security: str = "none", **overrides: str) -> dict[str, str]:
    values = {
        "SMTP_HOST": fake.host,
        "SMTP_PORT": str(fake.port),
        "SMTP_USERNAME": USER,
        "SMTP_PASSWORD": PASSWORD,
        "SMTP_FROM": "Do\u2018kon «Baraka» <shop@example.com>",
        "SMTP_SECURITY": security,
    }
    values.update(overrides)
    return values


@pytest.fixture(scope="session")
def smtp_plain() -> Iterator[FakeSmtp]:
    fake = FakeSmtp(credentials=(USER, PASSWORD)).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def smtp_starttls() -> Iterator[FakeSmtp]:
    fake = FakeSmtp(mode="starttls", credentials=(USER, PASSWORD), certificate=TRUSTED).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def smtp_untrusted() -> Iterator[FakeSmtp]:
    fake = FakeSmtp(mode="tls", credentials=(USER, PASSWORD), certificate=UNTRUSTED).start()
    yield fake
    fake.stop()


@pytest.fixture
def smtp(smtp_plain: FakeSmtp) -> Iterator[FakeSmtp]:
    yield smtp_plain
    smtp_plain.clear_faults()
