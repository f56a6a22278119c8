"""The layering rules that static analysis cannot see.

`make lint` (import-linter, contracts in pyproject.toml) checks every import written in the code.
What it cannot follow is the registry's lazy loading: integration classes are named by import
path (`"integrations.getsms:GetSmsIntegration"`) and loaded with importlib in workers only. This
checks at run time that the ingress, once loaded and having resolved every key, still holds no
integration package (and so none of the SDK and provider clients they bring).
"""

from __future__ import annotations

import subprocess
import sys

from tests.harness import ROOT


def _modules_after(code: str) -> set[str]:
    output = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint('\\n'.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"ENVIRONMENT": "test", "PATH": "/usr/bin:/bin"},
    )
    return set(output.stdout.split())


def test_ingress_loads_no_integration_package_through_the_registry() -> None:
    from integrations.registry import INTEGRATIONS

    packages = {spec.target.partition(":")[0] for spec in INTEGRATIONS.values()}
    loaded = _modules_after(
        "import api.app\nfrom integrations.registry import INTEGRATIONS, resolve\nfor key in INTEGRATIONS: resolve(key)"
    )
    heavy = {m for m in loaded if m.startswith(("regos_sdk", "celery", "kombu", "integrations.base"))}
    lazy = {m for m in loaded for p in packages if m == p or m.startswith(p + ".")}
    assert packages and not lazy | heavy, sorted(lazy | heavy)


def test_every_registry_path_names_an_integration_class() -> None:
    """The worker side of the lazy paths: a typo in a target fails here, not in production."""
    from integrations.base import IntegrationBase
    from integrations.registry import INTEGRATIONS, load_class

    for key in INTEGRATIONS:
        assert issubclass(load_class(key), IntegrationBase), key
