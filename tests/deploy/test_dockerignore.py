"""`docker build .` sends the runtime code and nothing else: no secrets, state, virtualenvs or VCS data.

The build context is computed from .dockerignore with Docker's own rules (tests/deploy/dockerignore.py)
over a copy of this tree's file list in which every kind of sensitive file has been planted.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.dockerignore import build_context, excluded, parse
from tests.harness import ROOT

RUNTIME_PACKAGES = ("api", "workers", "integrations", "regos_sdk", "schemas")

# What a developer's checkout holds besides the code (make run, make test, make bench, editors, git).
PLANTED = [
    ".env",
    ".env.production",
    "api/.env",
    ".run/operator_token",
    ".run/flower_basic_auth",
    ".run/redis/appendonly.aof",
    ".run/redis/appendonlydir/appendonly.aof.1.base.rdb",
    ".run/redis/appendonlydir/appendonly.aof.1.incr.aof",
    "dump.rdb",
    "workers/dump.rdb",
    ".venv/bin/python",
    ".venv/lib/python3.11/site-packages/redis/__init__.py",
    "venv/lib/python3.11/site-packages/x.py",
    ".git/config",
    ".git/objects/ab/cdef",
    "bench/results/2026-11-28/ingress.json",
    "__pycache__/settings.cpython-311.pyc",
    "api/__pycache__/app.cpython-311.pyc",
    "integrations/getsms/__pycache__/client.cpython-311.pyc",
    ".pytest_cache/v/cache/lastfailed",
    ".ruff_cache/0.1/123",
    ".hypothesis/examples/abc",
    "tests/deploy/secret.pem",
]


def forbidden(path: str) -> bool:
    """Secrets, state, virtualenvs, VCS data, caches, benchmark results: independent of .dockerignore."""
    parts = path.split("/")
    name = parts[-1]
    state_dirs = {".run", ".venv", "venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
    return (
        bool(state_dirs & set(parts[:-1]))
        or name == ".env"
        or name.startswith(".env.")
        or name.endswith((".rdb", ".aof", ".pyc", ".pem", ".key"))
        or path.startswith("bench/results/")
    )


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This tree's files (tracked and new, as placeholders) plus the planted ones."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    root = tmp_path_factory.mktemp("checkout")
    for relative in [*listed, *PLANTED]:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    return root


def test_docker_pattern_rules_as_documented() -> None:
    # Examples of https://docs.docker.com/build/concepts/context/#dockerignore-files
    rules = parse("*/temp*\n*/*/temp*\ntemp?\n")
    assert excluded("somedir/temporary.txt", rules)
    assert excluded("somedir/temp", rules)
    assert excluded("somedir/subdir/temporary.txt", rules)
    assert excluded("tempa", rules)
    assert not excluded("temp.txt", rules)  # */temp* needs a directory; temp? one character
    assert not excluded("a/b/c/temp.txt", rules)
    rules = parse("*.md\n!README*.md\nREADME-secret.md\n")
    assert excluded("CHANGES.md", rules)
    assert not excluded("README.md", rules)
    assert excluded("README-secret.md", rules)
    assert not excluded("docs/guide.md", rules)  # `*` does not cross a directory
    assert excluded("docs/guide.md", parse("**/*.md"))
    assert excluded(".run/redis/appendonly.aof", parse("/.run/"))  # a directory takes its files; leading / ignored
    assert not excluded("api/app.py", parse("*\n!api/"))
    assert excluded("api/x.pyc", parse("*\n!api/\n**/*.py[cod]"))


def test_no_secret_state_venv_or_vcs_file_is_sent(checkout: Path) -> None:
    assert any(forbidden(path) for path in PLANTED), "the planted files must be ones the check looks for"
    without_ignore = build_context(checkout, "")
    assert set(PLANTED) <= without_ignore  # what `docker build` would send without .dockerignore
    sent = build_context(checkout, (ROOT / ".dockerignore").read_text())
    leaked = sorted(path for path in sent if forbidden(path))
    assert leaked == [], f".dockerignore lets these into the image: {leaked}"


def test_the_runtime_code_is_sent(checkout: Path) -> None:
    sent = build_context(checkout, (ROOT / ".dockerignore").read_text())
    assert "requirements.txt" in sent
    for package in RUNTIME_PACKAGES:
        code = {p.relative_to(checkout).as_posix() for p in (checkout / package).rglob("*.py")}
        code = {path for path in code if "__pycache__" not in path}
        assert code and code <= sent, f"missing from the image: {sorted(code - sent)[:5]}"
    # Every module of ours that the sent code imports is sent as well.
    ours = {p.stem for p in ROOT.glob("*.py")} | {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    imported: set[str] = set()
    for path in sent:
        if path.endswith(".py") and (ROOT / path).exists():
            tree = ast.parse((ROOT / path).read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    imported |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported.add(node.module.split(".")[0])
    for module in sorted(imported & ours):
        assert f"{module}.py" in sent or f"{module}/__init__.py" in sent, f"{module} is imported but not sent"


def test_tests_bench_and_tooling_stay_out(checkout: Path) -> None:
    sent = build_context(checkout, (ROOT / ".dockerignore").read_text())
    outside = [p for p in sent if re.match(r"(tests|bench|docs|scripts|\.ci)/", p) or p in {"Makefile", ".gitignore"}]
    assert outside == []
