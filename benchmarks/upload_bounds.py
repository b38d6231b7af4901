"""Benchmark: how fast, and at what memory cost, hostile table uploads are refused (issue 18).
Prints JSON.

Each case runs in a fresh subprocess: the upload is built by the parent and handed over as a
file; the child reads its bytes and imports openpyxl first, then the baseline peak RSS (``resource.getrusage``) is taken, the file is read with
``itemfiles.tables.read_table`` (what roster import, paper answers and item sets use) and the
wall time and peak-RSS growth are reported with the outcome (refused and why, or rows read).

Cases:
- ``declared_1048576``: the issue's 1.5 KB roster XLSX declaring ``A1:XFD1048576``;
- ``far_row_1048576``: no declaration, three roster rows and one cell in row 1,048,576;
- ``deflate_200mb``: a 200 KB XLSX whose worksheet inflates to 200 MB;
- ``csv_field_140k``: a CSV with a 140,000-character field;
- ``honest_20000``: a valid 20,000-row roster XLSX (the cap), read in full.

Peer measured in the same run (habit 14): the unbounded read that roster import did before
(``load_workbook(read_only)`` + ``iter_rows`` over the declared dimension) on the same attack
declaring ``A1:XFD{n}`` with its last cell in row n, for n = 1,000 and 4,000 (the 1,048,576-row
file would need about 130 GB).

    .venv/bin/python benchmarks/upload_bounds.py [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CASES = ["declared_1048576", "far_row_1048576", "deflate_200mb", "csv_field_140k", "honest_20000",
         "peer_unbounded_1000", "peer_unbounded_4000"]


def build(case: str) -> tuple[str, bytes]:
    from tests.itemfiles import attacks

    if case == "declared_1048576":
        return "名单.xlsx", attacks.declared_dimension_bomb(1_048_576)
    if case == "far_row_1048576":
        return "名单.xlsx", attacks.far_row_bomb(1_048_576)
    if case == "deflate_200mb":
        return "名单.xlsx", attacks.deflate_bomb(200)
    if case == "csv_field_140k":
        return "名单.csv", ("准考证号,姓名\nT1," + "长" * 140_000 + "\n").encode()
    if case == "honest_20000":
        rows = [attacks.ROSTER[0]] + [[f"T{i:05d}", f"考生{i}", "1234", "第一考场"] for i in range(1, 20_000)]
        return "名单.xlsx", attacks.xlsx(rows, dimension="A1:D20000")
    n = int(case.rsplit("_", 1)[1])
    return "名单.xlsx", attacks.xlsx(attacks.ROSTER + [["T9999", "末行"]], dimension=f"A1:XFD{n}",
                                    row_numbers=[1, 2, 3, n])


def unbounded_read(data: bytes) -> list[list[str]]:
    """``read_table`` as it was before the bounds (the peer)."""
    from openpyxl import load_workbook

    from examengine.itemfiles.tables import _cell

    ws = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    rows = [[_cell(v) for v in r] for r in ws.iter_rows(values_only=True)]
    return [r for r in rows if any(r)]


def child(case: str, path: Path) -> None:
    import openpyxl  # noqa: F401  (imported before the baseline)

    from examengine.errors import DataFileError
    from examengine.itemfiles.tables import read_table

    filename, data = path.name, path.read_bytes()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    try:
        rows = unbounded_read(data) if case.startswith("peer") else read_table(filename, data)
        outcome = f"read {len(rows)} rows"
    except DataFileError as exc:
        outcome = "refused: " + str(exc.problems[0])
    seconds = time.perf_counter() - t
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(json.dumps({"upload_bytes": len(data), "seconds": round(seconds, 3),
                      "peak_rss_growth_mb": round(grown / 1024, 1), "outcome": outcome}, ensure_ascii=False))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path)
    ap.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        child(args.case, args.file)
        return
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:  # built here, so that the child's baseline holds only the upload's bytes
            filename, data = build(case)
            path = Path(tmp) / case / filename
            path.parent.mkdir()
            path.write_bytes(data)
            r = subprocess.run([sys.executable, __file__, "--case", case, "--file", str(path)],
                               capture_output=True, text=True, timeout=600)
            out[case] = json.loads(r.stdout) if r.returncode == 0 else {"error": r.stderr[-500:]}
    out["acceptance"] = {"declared_1048576_under_2s_and_100mb": out["declared_1048576"].get("seconds", 99) < 2
                         and out["declared_1048576"].get("peak_rss_growth_mb", 1e9) < 100
                         and out["declared_1048576"].get("outcome", "").startswith("refused")}
    text = json.dumps(out, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
