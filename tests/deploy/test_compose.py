"""docker-compose.yml and the Dockerfile stay in step with `make run` (scripts/run.py).

No Docker engine runs where these tests run, so they parse both files: the same commands, the
variables `make run` generates are required (with a message) instead, every gateway process has
a healthcheck that uses only what the image holds, and the image runs as a non-root user.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.run import process_commands
from tests.harness import ROOT

COMPOSE_SERVICE_OF = {
    "api": "api",
    "interactive": "worker-interactive",
    "messages": "worker-messages",
    "flower": "flower",
    "beat": "beat",
}
# make run binds to loopback; containers must listen on every interface of their network.
LISTEN = {"127.0.0.1": "0.0.0.0", "--address=127.0.0.1": "--address=0.0.0.0"}
# What scripts/run.py generates or sets for a local run, which compose must get from the operator.
GENERATED_BY_MAKE_RUN = ("OPERATOR_TOKEN", "FLOWER_BASIC_AUTH", "PUBLIC_BASE_URL")
PRODUCTION_SECRETS = ("GATEWAY_SECRET_KEY", "REGOS_OAUTH_CLIENT_SECRET", "FLOWER_BASIC_AUTH")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def _as_compose(command: list[str]) -> list[str]:
    assert command[:2] == [sys.executable, "-m"]  # make run: the venv's python -m <tool>
    return [LISTEN.get(arg, arg) for arg in command[2:]]


def test_compose_runs_the_commands_of_make_run(services: dict[str, Any]) -> None:
    for name, command in process_commands("${LOG_LEVEL:-INFO}").items():
        assert services[COMPOSE_SERVICE_OF[name]]["command"] == _as_compose(command), name


def test_every_gateway_process_has_a_healthcheck_the_image_can_run(services: dict[str, Any]) -> None:
    checks = {name: " ".join(services[name]["healthcheck"]["test"]) for name in COMPOSE_SERVICE_OF.values()}
    assert "http://127.0.0.1:8000/ready" in checks["api"]
    assert "inspect ping -d interactive@$$HOSTNAME" in checks["worker-interactive"]
    assert "inspect ping -d messages@$$HOSTNAME" in checks["worker-messages"]
    assert "http://127.0.0.1:5555/healthcheck" in checks["flower"]
    for name, check in checks.items():
        assert not re.search(r"\b(curl|wget)\b", check), f"{name}: the slim image has neither curl nor wget"
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_secrets_come_from_variables_with_a_clear_error_when_missing(services: dict[str, Any]) -> None:
    for name in COMPOSE_SERVICE_OF.values():
        environment = services[name]["environment"]
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        for variable in {*GENERATED_BY_MAKE_RUN, *PRODUCTION_SECRETS}:
            value = environment.get(variable, "")
            assert re.fullmatch(rf"\$\{{{variable}:\?set {variable}\b.+\}}", value), f"{name}: {variable}={value!r}"
    for name in ("worker-interactive", "worker-messages"):
        assert services[name]["environment"]["WORKER_METRICS_PORT"] == "9200"  # as make run


def test_make_run_sets_what_compose_requires() -> None:
    source = (ROOT / "scripts" / "run.py").read_text()
    for variable in GENERATED_BY_MAKE_RUN:
        assert f'env.setdefault("{variable}"' in source


def test_redis_in_compose_is_durable(services: dict[str, Any]) -> None:
    command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    assert "--appendfsync everysec" in command


def test_image_is_multi_stage_non_root_and_runs_the_api_command(services: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert len(stages) >= 2, "dependencies are built in a stage of their own"
    final = dockerfile.split("\nFROM ")[-1]
    user = re.findall(r"^USER\s+(\S+)", final, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in {"0", "root"}
    assert "pip install" not in final, "the final stage only copies the built virtualenv"
    cmd = re.search(r"^CMD\s+(\[.*\])$", final, re.MULTILINE)
    assert cmd and yaml.safe_load(cmd.group(1)) == services["api"]["command"]


def test_env_example_says_it_is_a_production_template() -> None:
    lines = Path(ROOT / ".env.example").read_text().splitlines()
    assert "PRODUCTION TEMPLATE" in lines[0]
    assert "ENVIRONMENT=production" in lines
