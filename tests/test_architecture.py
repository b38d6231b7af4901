"""The layering of ARCHITECTURE.md holds: irt/ and exam/ import no database, web, templating or
settings; imports point down the layers only; the shells (api/, ui/, cli/) reach the core only
through services/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    return subprocess.run([exe, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def test_the_import_contracts_are_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "caught"), [
    ("irt/leak.py", "import sqlalchemy\n", "examengine.irt.leak -> sqlalchemy"),
    ("services/leak.py", "import examengine.api.items\n", "examengine.services.leak -> examengine.api.items"),
    ("cli/leak.py", "import examengine.itemfiles.reader\n", "examengine.cli.leak -> examengine.itemfiles.reader"),
])
def test_the_contracts_would_catch_a_forbidden_import(tmp_path, module, line, caught):
    # A copy of the package with one forbidden import: a contract must break and name it.
    shutil.copytree(REPO / "examengine", tmp_path / "examengine", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "examengine" / module).write_text(line, encoding="utf-8")
    result = lint_imports(tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert caught in result.stdout
