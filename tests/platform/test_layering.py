"""The layering rules hold: the ingress never loads REGOS or provider clients."""

from __future__ import annotations

import subprocess
import sys

from tests.harness import ROOT


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    output = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"ENVIRONMENT": "test", "PATH": "/usr/bin:/bin"},
    )
    return set(output.stdout.split())


def test_ingress_imports_no_sdk_integration_code_or_celery() -> None:
    loaded = _modules_after_import("api.app")
    forbidden = {
        m
        for m in loaded
        if m.startswith(
            (
                "regos_sdk",
                "integrations.base",
                "celery.",
                "workers.app",
                "workers.tasks",
                "integrations.getsms",
                "integrations.eskiz_sms",
                "integrations.regos_telegram_notifier",
            )
        )
    }
    assert not forbidden, forbidden


def test_sdk_knows_no_integration_queue_or_ingress() -> None:
    loaded = _modules_after_import("regos_sdk")
    assert not {m for m in loaded if m.startswith(("integrations", "workers", "api", "celery"))}


def test_schemas_depend_on_nothing_of_ours() -> None:
    loaded = _modules_after_import("schemas.envelope")
    ours = ("api", "workers", "integrations", "regos_sdk", "settings")
    assert not {m for m in loaded if m.split(".")[0] in ours}
