"""SMTP sessions through aiosmtplib, with every failure sorted by what it means for a message.

- `LoginRefused`: the relay refused our credentials (or TLS could not be verified, or a
  required extension is missing): nothing will go out until settings change.
- `NotReached`: no usable session (connection refused, timeout, 4xx greeting): nothing was sent.
- `Deferred`: the relay answered 4xx, or the connection died before the message's DATA: not
  sent, try again later.
- `Refused`: the relay answered 5xx for this message (bad mailbox, refused sender or content):
  failed for good, with the relay's words.
- `OutcomeUnknown`: the connection died or timed out after the message's content was sent:
  the relay may have accepted it.
"""

from __future__ import annotations

import socket
import ssl
from functools import cache

import aiosmtplib

from integrations.email_sender.config import SmtpConfig
from kit import http_outcome


class SmtpFailure(http_outcome.CallFailure):
    """`str()` is safe for results and logs: the relay's reply, never a credential. Each kind
    below is also the `kit.http_outcome` outcome it means."""

    def __init__(self, detail: str) -> None:
        super().__init__("", detail)


class LoginRefused(SmtpFailure, http_outcome.Refused):
    pass


class NotReached(SmtpFailure, http_outcome.NotSent):
    pass


class Deferred(SmtpFailure, http_outcome.NotSent):
    pass


class Refused(SmtpFailure, http_outcome.Refused):
    pass


class OutcomeUnknown(SmtpFailure, http_outcome.OutcomeUnknown):
    pass


@cache
def _local_hostname() -> str:
    return socket.getfqdn()


@cache
def tls_context() -> ssl.SSLContext:
    """The system's CA store (it honours SSL_CERT_FILE / SSL_CERT_DIR), host names checked."""
    return ssl.create_default_context()


def reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {' '.join(exc.message.split())}"


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def open_session(config: SmtpConfig, timeout_seconds: float) -> aiosmtplib.SMTP:
    """A connected session: greeting, EHLO, TLS as configured, AUTH when a username is set."""
    smtp = aiosmtplib.SMTP(
        hostname=config.host,
        port=config.port,
        use_tls=config.security == "tls",
        start_tls=config.security == "starttls",
        tls_context=tls_context() if config.security != "none" else None,
        timeout=timeout_seconds,
        local_hostname=_local_hostname(),
    )
    where = config.endpoint
    try:
        await smtp.connect()
        if config.username:
            await _login(smtp, config)
    except aiosmtplib.SMTPAuthenticationError as exc:
        smtp.close()
        raise LoginRefused(
            f"SMTP login to {where} refused: {reply(exc)} (check SMTP_USERNAME / SMTP_PASSWORD)"
        ) from None
    except aiosmtplib.SMTPNotSupported as exc:
        smtp.close()
        raise LoginRefused(f"SMTP server {where} does not support what SMTP_SECURITY / AUTH need: {exc}") from None
    except aiosmtplib.SMTPResponseException as exc:
        smtp.close()
        if 400 <= exc.code < 500:
            raise NotReached(f"SMTP server {where} answered {reply(exc)}") from None
        raise LoginRefused(f"SMTP server {where} refused the session: {reply(exc)}") from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        smtp.close()
        tls = _tls_error(exc)
        if isinstance(tls, ssl.SSLCertVerificationError):
            raise LoginRefused(
                f"TLS certificate of SMTP server {where} not trusted: {tls.verify_message} "
                "(add the relay's CA with SSL_CERT_FILE, or fix SMTP_HOST)"
            ) from None
        raise NotReached(f"SMTP server {where} not reached: {type(exc).__name__}: {exc}") from None
    return smtp


async def _login(smtp: aiosmtplib.SMTP, config: SmtpConfig) -> None:
    try:
        await smtp.login(config.username or "", config.password or "")
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        raise
    except aiosmtplib.SMTPException as exc:  # no AUTH offered (e.g. only after STARTTLS): settings
        raise aiosmtplib.SMTPNotSupported(str(exc)) from None


async def close_session(smtp: aiosmtplib.SMTP) -> None:
    """QUIT politely; a session that fails to close cost nothing."""
    try:
        if smtp.is_connected:
            await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()


async def deliver(smtp: aiosmtplib.SMTP, sender: str, recipient: str, payload: bytes) -> str:
    """MAIL, RCPT, DATA for one message; returns the relay's final reply (2xx)."""
    try:
        await smtp.mail(sender)
        await smtp.rcpt(recipient)
    except aiosmtplib.SMTPResponseException as exc:
        await _reset(smtp)
        error = f"{'MAIL FROM' if isinstance(exc, aiosmtplib.SMTPSenderRefused) else 'RCPT TO'} refused: {reply(exc)}"
        raise (Refused if exc.code >= 500 else Deferred)(error) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        smtp.close()
        raise Deferred(f"connection lost before DATA: {type(exc).__name__}: {exc}") from None
    try:
        response = await smtp.data(payload)
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code == 354 or exc.code < 400:
            smtp.close()
            raise OutcomeUnknown(f"unexpected reply to DATA: {reply(exc)}") from None
        error = f"DATA refused: {reply(exc)}"
        raise (Refused if exc.code >= 500 else Deferred)(error) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        smtp.close()
        raise OutcomeUnknown(f"connection lost during DATA: {type(exc).__name__}: {exc}") from None
    return f"{response.code} {' '.join(response.message.split())}"


async def _reset(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.rset()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()
