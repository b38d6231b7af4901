"""Many candidates at once against the real server (uvicorn, SQLite): with more concurrent
requests than database connections, no request may wait for a connection that a request
waiting for a thread holds (FastAPI runs a sync dependency, the sync route and the validation of
its return value in separate turns of its thread pool). Before deps.release_connection, 200
candidates signing in together stalled the server until the pool's 30 s timeout and every
request failed. Uses the load study's own driver, bounded in time."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import load  # noqa: E402  (benchmarks/load.py)


def test_more_candidates_than_connections_all_get_through(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'many.db'}"
    load.init_db(url)
    # in a thread of its own: asyncio.run refuses a thread where an event loop runs (page tests)
    with ThreadPoolExecutor(1) as pool:
        out = pool.submit(load.study, url, 1, 120, 12.0).result()
    assert out["errors"] == 0, out["error_kinds"]
    assert out["lost_answers"] == 0
    assert out["answers"] >= 120  # every candidate got past sign-in and answered
