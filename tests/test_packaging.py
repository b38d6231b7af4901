"""The wheel: built from this checkout, installed into a fresh virtualenv, run from outside the
checkout, it migrates a database, loads its catalog, bank and blueprints, and serves /exam."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.packaging

#: What a build reads: the project files and what setup.py and MANIFEST.in name.
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "NOTICE", "requirements.lock",
           "alembic.ini", "examengine", "migrations", "blueprints", "itembank")


def _env(**extra: str) -> dict[str, str]:
    """The environment minus anything that would let the checkout leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAMENGINE_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the sources (no stale build/ of the checkout, nothing written into it)."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_data"))
        else:
            shutil.copy2(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                   check=True, env=_env(), timeout=600)
    (path,) = out.glob("examengine-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory) -> Path:
    """A fresh virtualenv holding the wheel only; its dependencies are this test run's own (a .pth
    line naming our site-packages, read after the venv's own), so nothing is downloaded."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
                   check=True, env=_env(), timeout=300)
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return root


def test_the_wheel_carries_the_licence_the_migrations_and_every_data_file(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert {f"{dist_info}/licenses/LICENSE", f"{dist_info}/licenses/NOTICE"} <= names
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata
    for shipped in ("examengine/_data/alembic.ini", "examengine/_data/migrations/env.py",
                    "examengine/_data/migrations/versions/0001_catalog.py",
                    "examengine/_data/blueprints/standards/530046.yaml", "examengine/_data/blueprints/530046-L2.yaml",
                    "examengine/_data/itembank/530046-L1.json", "examengine/templates/base.html"):
        assert shipped in names, shipped
    assert any(n.startswith("examengine/static/") for n in names)
    assert not any("__pycache__" in n for n in names)


def test_the_installed_wheel_migrates_loads_and_serves_outside_the_checkout(venv: Path, tmp_path: Path):
    python, examengine = venv / "bin" / "python", venv / "bin" / "examengine"
    where = subprocess.check_output([str(python), "-c", "import examengine; print(examengine.__file__)"],
                                    cwd=tmp_path, env=_env(), text=True).strip()
    assert Path(where).is_relative_to(venv), where  # the wheel, not the checkout

    env = _env(EXAMENGINE_DATABASE_URL=f"sqlite:///{tmp_path / 'e.db'}")
    init = subprocess.run([str(examengine), "init"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "数据库已迁移" in init.stdout and "标准目录已载入" in init.stdout
    assert "示例题库" in init.stdout and "蓝图 530046-L2" in init.stdout and "演示考试" in init.stdout

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(examengine), "serve", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/exam", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "the installed server did not answer"
                time.sleep(0.2)
        assert page.status_code == 200 and "准考证号" in page.text
        css = httpx.get(f"http://127.0.0.1:{port}/static/app.css", timeout=5)
        assert css.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
