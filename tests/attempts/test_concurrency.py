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


def test_more_concurrent_staff_requests_than_connections_all_get_through(tmp_path) -> None:
    """The same for staff routes, which have no hand-written release: 300 GETs at once of five
    staff routes (list pages and JSON reading ORM objects) must all answer 200. Before
    deps.ReleasingRoute: 80 errors and 219 timeouts of 300."""
    import asyncio
    import collections

    import aiohttp

    url = f"sqlite:///{tmp_path / 'staff.db'}"
    load.init_db(url)
    proc, base = load.start(url, 1)

    async def storm() -> collections.Counter:
        timeout = aiohttp.ClientTimeout(total=40)
        async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=300), timeout=timeout) as c:
            r = await c.post("/api/v1/sessions", json={"username": load.STAFF, "password": load.STAFF_PASSWORD})
            h = {"Authorization": f"Bearer {(await r.json())['token']}"}
            r = await c.post("/api/v1/exams", headers=h, json={"blueprint": "530046-L2", "name": "并发"})
            exam = (await r.json())["id"]
            paths = ["/api/v1/exams", f"/api/v1/exams/{exam}", "/api/v1/blueprints", "/api/v1/blueprints/530046-L2",
                     "/api/v1/items?limit=50"]
            statuses: collections.Counter = collections.Counter()

            async def one(k: int) -> None:
                try:
                    async with c.get(paths[k % len(paths)], headers=h) as resp:
                        await resp.read()
                        statuses[resp.status] += 1
                except (TimeoutError, aiohttp.ClientError) as exc:
                    statuses[type(exc).__name__] += 1

            await asyncio.gather(*(one(k) for k in range(300)))
            return statuses

    try:
        with ThreadPoolExecutor(1) as pool:
            statuses = pool.submit(asyncio.run, storm()).result()
    finally:
        proc.kill()
        proc.wait()
    assert statuses == {200: 300}, statuses
