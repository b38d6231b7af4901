"""requirements.lock answers pyproject.toml: every direct dependency (runtime and every extra) is
pinned in it at a version its declared range admits, so `make run` and `make test` install what
pyproject promises. A change of pyproject without `make lock` fails here."""

from __future__ import annotations

import tomllib

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO


def _pins() -> dict[str, list[tuple[str, Requirement]]]:
    pins: dict[str, list[tuple[str, Requirement]]] = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (version,) = [s.version for s in req.specifier if s.operator == "=="]
            pins.setdefault(canonicalize_name(req.name), []).append((version, req))
    return pins


def test_every_direct_dependency_is_locked_within_its_declared_range():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for deps in project["optional-dependencies"].values():
        declared += [d for d in deps if not d.startswith("examengine")]
    pins = _pins()
    env = {**default_environment(), "python_full_version": "3.11.7", "python_version": "3.11"}
    for spec in declared:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock: run `make lock`"
        versions = [v for v, pin in pins[name] if pin.marker is None or pin.marker.evaluate(env)]
        assert versions and all(req.specifier.contains(v, prereleases=True) for v in versions), (
            f"requirements.lock pins {req.name} {versions}, outside {req.specifier}: run `make lock`")


def test_the_advisory_floors_hold():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    floors = {canonicalize_name(Requirement(d).name): Requirement(d).specifier for d in project["dependencies"]}
    for name, too_old in (("python-multipart", "0.0.17"), ("jinja2", "3.1.5"), ("pillow", "10.2.0"),
                          ("fastapi", "0.124.0"), ("fastapi", "0.123.5"), ("typer", "0.15.3"),
                          ("weasyprint", "62.3"), ("defusedxml", "0.7.0"), ("uvicorn", "0.30.6")):
        assert not floors[name].contains(too_old), (name, too_old)
