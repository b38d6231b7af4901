"""Load study: N concurrent simulated candidates over HTTP on loopback, each taking a whole exam
with think time 0 (the worst case), against the real server (uvicorn) on SQLite with one worker
and on PostgreSQL with two. Reports answers per second, p50/p95/p99 latency of an answer,
errors, lost answers (acknowledged by the server but not in the database) and the server's
CPU per answer. ``--threads 1,2,4,40`` also compares the candidates' thread counts per worker
(EXAMENGINE_CANDIDATE_THREADS) at zero think time. Bounded in count and time; prints JSON.

    python benchmarks/load.py [--candidates 200] [--threads 1,2,4,40]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import httpx
import numpy as np
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STAFF, STAFF_PASSWORD = "load-proctor", "load-study-password-1"


def init_db(url: str) -> None:
    from examengine.config import Settings
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.services.accounts import Role, create_user
    from examengine.services.setup import initialize

    initialize(Settings(database_url=url, data_dir=REPO))
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        create_user(db, username=STAFF, password=STAFF_PASSWORD, role=Role.ADMIN)
    engine.dispose()


def start(url: str, workers: int, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "EXAMENGINE_DATABASE_URL": url, "EXAMENGINE_DATA_DIR": str(REPO), **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "examengine.app:create_app", "--factory", "--host",
                             "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning",
                             "--timeout-keep-alive", "60", "--backlog", "4096"],
                            env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.environ.get("LOAD_SERVER_LOG", os.devnull), "ab"))
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


class Reply:
    """Status and JSON body of a response (read before the connection is released)."""

    def __init__(self, status: int, body: object) -> None:
        self.status_code, self.body = status, body

    def json(self):
        return self.body


async def send(client: aiohttp.ClientSession, method: str, url: str, retries: list, *, json_body=None,
               headers=None, data=None) -> Reply:
    """A request, retried on a transport error as a real client would (answers are idempotent:
    the same position posted again returns the first outcome and records nothing new)."""
    for attempt in range(4):
        try:
            async with client.request(method, url, json=json_body, headers=headers, data=data) as r:
                raw = await r.read()
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:  # not JSON: a plain-text error of the server
                    body = {"error": raw[:200].decode(errors="replace")}
                return Reply(r.status, body)
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError):
            if attempt == 3:
                raise
            retries.append(url)
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


async def candidate(client: aiohttp.ClientSession, ticket: dict, latencies: list, errors: list, acked: dict,
                    deadline: float, retries: list, think: float, rng: np.random.Generator) -> None:
    try:
        await _candidate(client, ticket, latencies, errors, acked, deadline, retries, think, rng)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        errors.append(("transport", type(exc).__name__))


async def _candidate(client: aiohttp.ClientSession, ticket: dict, latencies: list, errors: list, acked: dict,
                     deadline: float, retries: list, think: float, rng: np.random.Generator) -> None:
    r = await send(client, "POST", "/api/v1/attempts", retries,
                   json_body={"ticket": ticket["ticket"], "code": ticket["access_code"]})
    if r.status_code != 200:
        errors.append(("sign_in", r.status_code))
        return
    aid, h = r.json()["attempt_id"], {"Authorization": f"Bearer {r.json()['token']}"}
    r = await send(client, "GET", f"/api/v1/attempts/{aid}/item", retries, headers=h)
    if r.status_code != 200:
        errors.append(("item", r.status_code))
        return
    item = r.json()
    acked[aid] = 0
    if think:  # candidates do not all start in the same millisecond
        await asyncio.sleep(float(rng.uniform(0, think)))
    while not item.get("finished") and time.monotonic() < deadline:
        if think:  # reading and answering: exponential with the given mean
            await asyncio.sleep(float(rng.exponential(think)))
        t0 = time.perf_counter()
        r = await send(client, "POST", f"/api/v1/attempts/{aid}/answers", retries, headers=h,
                       json_body={"position": item["position"], "item_id": item["item_id"],
                                  "answer": ["A", "B"] if item.get("multiple") else ["A"]})
        latencies.append(time.perf_counter() - t0)
        if r.status_code != 200:
            errors.append(("answer", r.status_code))
            return
        acked[aid] += 1
        item = r.json()


async def drive(base: str, n: int, time_limit: float, think: float, seed: int) -> dict:
    connector = aiohttp.TCPConnector(limit=n)
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:
        retries: list[str] = []
        token = (await send(client, "POST", "/api/v1/sessions", retries,
                            json_body={"username": STAFF, "password": STAFF_PASSWORD})).json()["token"]
        staff = {"Authorization": f"Bearer {token}"}
        exam = (await send(client, "POST", "/api/v1/exams", retries, headers=staff,
                           json_body={"blueprint": "530046-L2", "name": f"load {uuid.uuid4()}"})).json()
        roster = "准考证号,姓名\n" + "".join(f"L{uuid.uuid4().hex[:6]}{i:05d},考生{i}\n" for i in range(n))
        form = aiohttp.FormData()
        form.add_field("file", roster.encode(), filename="r.csv")
        await send(client, "POST", f"/api/v1/exams/{exam['id']}/roster", retries, headers=staff, data=form)
        tickets = (await send(client, "GET", f"/api/v1/exams/{exam['id']}/tickets", retries, headers=staff)).json()
        latencies: list[float] = []
        errors: list = []
        acked: dict[int, int] = {}
        started = time.perf_counter()
        deadline = time.monotonic() + time_limit
        await asyncio.gather(*(candidate(client, t, latencies, errors, acked, deadline, retries, think,
                                         np.random.default_rng([seed, k])) for k, t in enumerate(tickets)))
        seconds = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "acked": acked, "seconds": seconds, "retries": len(retries)}


async def drive_health(base: str, n: int, per_client: int) -> dict:
    """The floor of the stack: n clients at zero think time, each sending ``per_client`` GETs of
    /healthz (one SELECT 1 on a pooled connection; no ORM, no CAT engine)."""
    latencies: list[float] = []

    async def client_loop(client: aiohttp.ClientSession) -> None:
        for _ in range(per_client):
            t0 = time.perf_counter()
            async with client.get("/healthz") as r:
                await r.read()
                assert r.status == 200
            latencies.append(time.perf_counter() - t0)

    connector = aiohttp.TCPConnector(limit=n)
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(n)))
        seconds = time.perf_counter() - started
    return {"latencies": latencies, "seconds": seconds}


def health_study(url: str, n: int, per_client: int = 25) -> dict:
    proc, base = start(url, 1)
    try:
        cpu0 = server_cpu_seconds(proc.pid)
        run = asyncio.run(drive_health(base, n, per_client))
        cpu = server_cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    lat = np.array(run["latencies"]) * 1000
    return {"clients": n, "requests": int(lat.size), "requests_per_s": round(lat.size / run["seconds"], 1),
            "latency_ms": {q: round(float(np.percentile(lat, int(q[1:]))), 1) for q in ("p50", "p95", "p99")},
            "server_cpu_ms_per_request": round(1000 * cpu / max(lat.size, 1), 2)}


def stored_answers(url: str, attempt_ids) -> dict[int, int]:
    from examengine.db.models import AttemptItem

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(AttemptItem.attempt_id, func.count()).where(
            AttemptItem.attempt_id.in_(list(attempt_ids)), AttemptItem.answer.is_not(None))
            .group_by(AttemptItem.attempt_id)).all()
    engine.dispose()
    return dict(rows)


def server_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) so far of a process and its living descendants (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2:].split()
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, total = {pid}, 0.0
    for _ in range(3):  # uvicorn's supervisor, its workers (and their helpers)
        tree |= {p for p, (ppid, _) in stats.items() if ppid in tree}
    for p in tree:
        total += stats.get(p, (0, 0.0))[1]
    return total


def postgres_cpu_seconds() -> float:
    """CPU seconds so far of every PostgreSQL server process on this machine (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() not in ("postgres", "postmaster"):
                    continue
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2:].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def study(url: str, workers: int, n: int, time_limit: float, think: float = 0.0, seed: int = 1,
          env: dict[str, str] | None = None) -> dict:
    proc, base = start(url, workers, env)
    cpu = client = pg = 0.0
    on_pg = url.startswith("postgresql")
    try:
        cpu0, client0, pg0 = server_cpu_seconds(proc.pid), own_cpu_seconds(), postgres_cpu_seconds() if on_pg else 0.0
        run = asyncio.run(drive(base, n, time_limit, think, seed))
        cpu, client = server_cpu_seconds(proc.pid) - cpu0, own_cpu_seconds() - client0
        pg = postgres_cpu_seconds() - pg0 if on_pg else 0.0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    lat = np.array(run["latencies"]) * 1000
    stored = stored_answers(url, run["acked"])
    lost = sum(max(0, k - stored.get(a, 0)) for a, k in run["acked"].items())
    return {
        "workers": workers, "candidates": n, "think_time_mean_s": think, "answers": int(lat.size), "seconds": round(run["seconds"], 2),
        "answers_per_s": round(lat.size / run["seconds"], 1),
        "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 1), "p95": round(float(np.percentile(lat, 95)), 1),
                       "p99": round(float(np.percentile(lat, 99)), 1)} if lat.size else None,
        "errors": len(run["errors"]), "error_kinds": sorted({f"{k}:{c}" for k, c in run["errors"]}),
        "transport_retries": run["retries"], "lost_answers": lost,
        # the server's CPU over the run (sign-ins, first items and answers), per answer
        "server_cpu_s": round(cpu, 2), "server_cpu_ms_per_answer": round(1000 * cpu / max(lat.size, 1), 2),
        # on a 2-core machine the load client and PostgreSQL share the cores with the server
        "client_cpu_ms_per_answer": round(1000 * client / max(lat.size, 1), 2),
        **({"postgres_cpu_ms_per_answer": round(1000 * pg / max(lat.size, 1), 2)} if on_pg else {}),
    }


def _brief(r: dict) -> dict:
    return {k: r[k] for k in ("answers", "answers_per_s", "latency_ms", "errors", "lost_answers",
                              "server_cpu_ms_per_answer", "client_cpu_ms_per_answer", "postgres_cpu_ms_per_answer")
            if k in r}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--time-limit", type=float, default=90.0, help="seconds per study (bounded)")
    ap.add_argument("--think", type=float, default=5.0,
                    help="mean think time (s) of the paced study; real candidates take 30-90 s an item")
    ap.add_argument("--postgres", default=os.environ.get("EXAMENGINE_TEST_POSTGRES_URL", ""))
    ap.add_argument("--threads", default="",
                    help="also compare candidate thread counts at zero think time, e.g. 1,2,4,40 "
                         "(EXAMENGINE_CANDIDATE_THREADS; SQLite 1 worker, and PostgreSQL 2 workers if given)")
    args = ap.parse_args()
    counts = [int(x) for x in args.threads.split(",") if x.strip()]
    out: dict = {"machine": {"cores": os.cpu_count()}, "blueprint": "530046-L2"}
    tmp = Path(tempfile.mkdtemp(prefix="ee-load-"))
    try:
        sqlite_url = f"sqlite:///{tmp / 'load.db'}"
        init_db(sqlite_url)
        # worst case: every candidate posts the next answer the moment the last one returns
        out["sqlite_1_worker_think_0"] = study(sqlite_url, 1, args.candidates, args.time_limit)
        # the floor: the same clients at zero think time against /healthz (SELECT 1; no ORM, no engine)
        out["healthz_1_worker_think_0"] = health_study(sqlite_url, args.candidates)
        # paced: the same number of candidates with a (still fast) think time
        out[f"sqlite_1_worker_think_{args.think:g}s"] = study(sqlite_url, 1, args.candidates, args.time_limit,
                                                              think=args.think)
        for k in counts:
            out.setdefault("candidate_threads", {})[f"sqlite_1_worker_{k}"] = _brief(study(
                sqlite_url, 1, args.candidates, args.time_limit, env={"EXAMENGINE_CANDIDATE_THREADS": str(k)}))
        if args.postgres:
            name = f"ee_load_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            pg_url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
            try:
                init_db(pg_url)
                out["postgres_2_workers_think_0"] = study(pg_url, 2, args.candidates, args.time_limit)
                out["throughput_ratio_pg2_over_sqlite1"] = round(
                    out["postgres_2_workers_think_0"]["answers_per_s"] / out["sqlite_1_worker_think_0"]["answers_per_s"],
                    2)
                for k in counts:
                    out.setdefault("candidate_threads", {})[f"postgres_2_workers_{k}"] = _brief(study(
                        pg_url, 2, args.candidates, args.time_limit, env={"EXAMENGINE_CANDIDATE_THREADS": str(k)}))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    runs = [v for v in out.values() if isinstance(v, dict) and "lost_answers" in v]
    runs += list(out.get("candidate_threads", {}).values())
    out["lost_answers"] = sum(v["lost_answers"] for v in runs)
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
