"""The gateway's one settings object.

Every knob is an environment variable (or a line in `.env`) named like the field in upper
case. `get_settings()` returns the process-wide instance; tests and tools build their own
`Settings(...)` instead of patching globals.

Outside development and test, secrets have no defaults: the process refuses to start with
an empty `GATEWAY_SECRET_KEY` or a development placeholder, so a forgotten env var fails
loudly at boot instead of silently signing callbacks with a public key.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-only-insecure-gateway-secret-key"


class MissingSettingError(RuntimeError):
    """A setting that has no safe default was needed but not configured."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"{name} is not set: {why}. Set the environment variable {name} (or add it to .env).")
        self.name = name


class UnsafeSettingsError(ValueError):
    """Every problem of a configuration at once, each naming its variable and the fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"

    # --- Redis / Celery -------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    celery_broker_url: str | None = None  # defaults to REDIS_URL
    celery_result_backend: str | None = None  # defaults to REDIS_URL
    worker_concurrency: int = Field(32, ge=1, le=512)
    # Unacked messages go back to the queue after this long. It bounds how soon work held by
    # a SIGKILLed worker runs again, so no task, retry countdown or inline wait may exceed it.
    visibility_timeout_seconds: int = Field(60, ge=10)
    task_time_limit_seconds: int = Field(50, ge=5)
    task_max_retries: int = Field(8, ge=0)
    retry_backoff_base_seconds: float = Field(1.0, gt=0)
    retry_backoff_max_seconds: float = Field(40.0, gt=0)
    result_expires_seconds: int = Field(86_400, ge=60)

    # --- Ingress ---------------------------------------------------------------------------
    lifecycle_wait_seconds: float = Field(2.5, ge=0, le=2.9)
    enqueue_timeout_seconds: float = Field(1.0, gt=0)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    webhook_dedup_ttl_seconds: int = Field(86_400, ge=1)
    # HandleWebhooks of one connected integration run together, up to this many per batch task.
    webhook_batch_max: int = Field(50, ge=1, le=500)
    send_messages_dedup_window_seconds: int = Field(300, ge=0)  # 0 disables content dedup
    pii_retention_seconds: int = Field(7 * 86_400, ge=60)
    regos_allowed_ips: str = ""  # comma-separated; empty = anyone may call POST /clients/{client}

    # --- REGOS -----------------------------------------------------------------------------
    regos_integration_url: str = "https://integration.regos.uz"
    regos_oauth_token_url: str = "https://auth.regos.uz/oauth/token"
    regos_oauth_client_id: str = ""
    regos_oauth_client_secret: SecretStr = SecretStr("")
    regos_timeout_seconds: float = Field(10.0, gt=0)
    regos_rate_limit_per_second: float = Field(2.0, gt=0)
    regos_rate_limit_burst: int = Field(30, ge=1)
    # A wait (rate limit, Retry-After) longer than this is not slept inline: the typed error
    # goes up so the task layer reschedules the work without holding a worker slot.
    regos_max_inline_wait_seconds: float = Field(5.0, ge=0)
    settings_cache_seconds: int = Field(60, ge=0)
    tenant_cache_seconds: int = Field(60, ge=0, le=60)

    # --- Providers -------------------------------------------------------------------------
    eskiz_base_url: str = "https://notify.eskiz.uz/api"
    getsms_base_url: str | None = None  # issued per operator by GetSMS: no public default
    telegram_api_base_url: str = "https://api.telegram.org"
    provider_timeout_seconds: float = Field(15.0, gt=0)
    # EDO (shared/docs/edo-contract.md §1.5): the partner token is issued by Didox to this gateway.
    didox_base_url: str = "https://api-partners.didox.uz"
    didox_partner_token: SecretStr = SecretStr("")
    faktura_uz_api_url: str = "https://api.faktura.uz/Api"
    faktura_uz_token_url: str = "https://account.faktura.uz/token"

    # --- This gateway ----------------------------------------------------------------------
    public_base_url: str | None = None  # no default: only the operator knows it
    gateway_secret_key: SecretStr = SecretStr("")
    operator_token: SecretStr = SecretStr("")  # empty = /tasks and /admin are disabled
    flower_basic_auth: str = ""  # user:password
    # Each worker process serves Prometheus /metrics here (0 = off); a second worker on the same
    # host takes the next free port. Keep it on a private network, like Flower.
    worker_metrics_port: int = Field(0, ge=0, le=65_535)
    worker_metrics_address: str = "0.0.0.0"
    log_level: str = "INFO"
    # Production refuses to start on a Redis that can lose acknowledged work (no AOF, or an
    # evicting maxmemory-policy) unless the operator accepts that risk here.
    accept_non_durable_redis: bool = False

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        problems = []
        if self.task_time_limit_seconds >= self.visibility_timeout_seconds:
            problems.append(
                "TASK_TIME_LIMIT_SECONDS must be below VISIBILITY_TIMEOUT_SECONDS, or Redis hands a "
                "running task to a second worker: lower TASK_TIME_LIMIT_SECONDS"
            )
        if self.environment == "production":
            key = self.gateway_secret_key.get_secret_value()
            if len(key) < 32 or key == DEV_SECRET_KEY:
                problems.append(
                    "GATEWAY_SECRET_KEY must be at least 32 random characters in production: "
                    "set it to the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
                )
            if not self.regos_oauth_client_secret.get_secret_value():
                problems.append("REGOS_OAUTH_CLIENT_SECRET must be set in production: the gateway's REGOS secret")
            if not self.flower_basic_auth:
                problems.append("FLOWER_BASIC_AUTH must be set in production: user:password for Flower")
        if problems:
            raise UnsafeSettingsError(problems)
        return self

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url

    @property
    def result_backend(self) -> str:
        return self.celery_result_backend or self.redis_url

    @property
    def secret_key(self) -> bytes:
        """Server key for HMAC signatures and at-rest encryption of cached secrets."""
        key = self.gateway_secret_key.get_secret_value()
        if key:
            return key.encode()
        if self.environment == "production":  # unreachable: the validator refuses it
            raise MissingSettingError("GATEWAY_SECRET_KEY", "it signs callbacks and encrypts cached secrets")
        return DEV_SECRET_KEY.encode()

    @property
    def max_retry_countdown_seconds(self) -> float:
        """Longest countdown a task may schedule: an ETA held past the visibility timeout
        would make Redis hand the same message to a second worker."""
        return min(self.retry_backoff_max_seconds, self.visibility_timeout_seconds * 0.66)

    @property
    def effect_marker_ttl_seconds(self) -> int:
        """How long an exactly-once marker of a notification must live: while REGOS may deliver the
        event again undeduped (the dedupe window) plus every retry of its task (issue 15: kept 7 days
        before, ~3 KB per event)."""
        retries = self.task_max_retries * (self.max_retry_countdown_seconds + self.task_time_limit_seconds)
        return self.webhook_dedup_ttl_seconds + int(retries) + self.visibility_timeout_seconds

    def require_public_base_url(self) -> str:
        if not self.public_base_url:
            raise MissingSettingError("PUBLIC_BASE_URL", "providers need this gateway's public address for callbacks")
        return self.public_base_url.rstrip("/")

    def base_url(self, name: str, default: str | None, why: str) -> str:
        """The address in the variable `name` (a provider's `ESKIZ_BASE_URL`, ...), else `default`.

        Integrations name the variable (`IntegrationBase.base_url_env`), so a new provider needs no
        field here: a declared field is read as usual, any other name from the environment or
        `.env`. Returned exactly as configured: GetSMS's documented endpoint ends with "/" and
        `status/` is appended to it. `why` says who needs it, for the error when it is unset.
        """
        field_name = name.lower()
        if field_name in type(self).model_fields:
            value = getattr(self, field_name)
        else:
            env_file = self.model_config.get("env_file")
            value = os.environ.get(name) or (dotenv_values(env_file).get(name) if isinstance(env_file, str) else None)
        if value or default:
            return value or default  # type: ignore[return-value]
        raise MissingSettingError(name, why)


def configuration_problems(error: ValidationError) -> list[str]:
    """One line per problem, naming the environment variable; never the value (it may be a secret)."""
    problems: list[str] = []
    for item in error.errors():
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, UnsafeSettingsError):
            problems.extend(cause.problems)
            continue
        name = "_".join(str(part) for part in item["loc"]).upper() or "settings"
        problems.append(f"{name}: {item['msg']}: fix it in the environment or .env (see README.md, Settings)")
    return problems


@lru_cache
def get_settings() -> Settings:
    """The process's settings; a bad configuration ends the process with one line per problem,
    exit code 2 and no traceback (the entry points: uvicorn, celery, `python -m ...`)."""
    try:
        return Settings()
    except ValidationError as exc:
        for problem in configuration_problems(exc):
            print(f"configuration error: {problem}", file=sys.stderr)
        print("the process did not start; fix the settings above and start it again", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
