"""The layering of ARCHITECTURE.md holds: irt/ and exam/ import no database, web, templating or settings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    return subprocess.run([exe, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_are_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout


def test_the_contract_would_catch_irt_importing_sqlalchemy(tmp_path):
    # A copy of the package with one forbidden import: the same contract must break.
    shutil.copytree(REPO / "examengine", tmp_path / "examengine", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "examengine" / "irt" / "leak.py").write_text("import sqlalchemy\n", encoding="utf-8")
    result = subprocess.run(
        [shutil.which("lint-imports", path=str(Path(sys.executable).parent)), "--no-cache"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "examengine.irt.leak -> sqlalchemy" in result.stdout
