"""Print the licence of every distribution examengine installs at run time, read from the installed
distributions' own metadata (License-Expression, else a short License field, else the licence
classifiers), as the Markdown table of the README's "Dependency licences".

    .venv/bin/python scripts/dependency_licences.py --extra reference --extra plots
"""

from __future__ import annotations

import argparse
import re
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def licence(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    if meta.get("License-Expression"):
        return meta["License-Expression"]
    text = (meta.get("License") or "").strip()
    if text and len(text) <= 60 and "\n" not in text:
        return text
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return "; ".join(classifiers)
    first = text.splitlines()[0] if text else ""
    return first[:60] or "?"


def closure(root: str, extras: set[str]) -> dict[str, metadata.Distribution]:
    seen: dict[str, metadata.Distribution] = {}
    todo: list[tuple[str, set[str]]] = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        dist = metadata.distribution(name)
        seen[canonicalize_name(dist.metadata["Name"])] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            envs = [{"extra": e} for e in (wanted or {""})]
            if req.marker is not None and not any(req.marker.evaluate(e) for e in envs):
                continue
            if canonicalize_name(req.name) not in seen or req.extras:
                todo.append((req.name, set(req.extras)))
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="append", default=[], help="an extra of examengine to include")
    args = parser.parse_args()
    runtime = closure("examengine", set())
    extra_only = {e: set(closure("examengine", {e})) - set(runtime) for e in args.extra}
    dists = {**runtime, **closure("examengine", set(args.extra))}
    dists.pop("examengine", None)
    print("| package | version | licence (from its metadata) | installed for |")
    print("|---|---|---|---|")
    for key in sorted(dists):
        d = dists[key]
        used = ", ".join(f"[{e}]" for e, keys in extra_only.items() if key in keys) or "runtime"
        print(f"| {d.metadata['Name']} | {d.version} | {re.sub(r'[|]', '/', licence(d))} | {used} |")


if __name__ == "__main__":
    main()
