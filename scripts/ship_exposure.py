"""Calibrate Sympson-Hetter exposure parameters for every shipped blueprint on the shipped sample
bank and write blueprints/exposure.json, which `examengine init` stores (issue 24: exposure
control on out of the box). Run after changing the sample bank or a blueprint; it takes about a
minute per blueprint:

    .venv/bin/python scripts/ship_exposure.py

It initialises a fresh SQLite database in a temporary folder, so it never touches yours.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from examengine.config import Settings
from examengine.db.engine import make_engine, make_sessionmaker
from examengine.services.blueprints import list_blueprints
from examengine.services.setup import initialize
from examengine.services.simulation import SHIPPED_EXPOSURE_FILE, calibrate_and_store, export_exposure

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/ship.db"
        target = REPO / "blueprints" / SHIPPED_EXPOSURE_FILE
        moved = target.with_suffix(".json.old")
        if target.exists():  # calibrate from scratch, not from the shipped parameters
            target.rename(moved)
        try:
            initialize(Settings(database_url=url, data_dir=REPO))
            engine = make_engine(url)
            with make_sessionmaker(engine)() as db:
                codes = [b.code for b in list_blueprints(db)]
                for code in codes:
                    c = calibrate_and_store(db, code, seed=0)
                    sys.stderr.write(f"{code}: max exposure {c.max_exposure:.3f} (cap {c.target}), "
                                     f"{c.restricted_items}/{c.n_items} restricted, exhausted {c.exhausted_share:.1%}\n")
                data = export_exposure(db, codes)
            engine.dispose()
        except BaseException:
            if moved.exists():
                moved.rename(target)
            raise
        moved.unlink(missing_ok=True)
        target.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        sys.stderr.write(f"wrote {target}\n")


if __name__ == "__main__":
    main()
