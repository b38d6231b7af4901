"""Killing the server (SIGKILL) mid-exam loses no submitted answer, and the candidate resumes
at the same item with the same theta."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
from sqlalchemy import create_engine, select

from examengine.db.models import Attempt, AttemptItem
from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "EXAMENGINE_DATABASE_URL": db_url, "EXAMENGINE_DATA_DIR": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "examengine.app:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server did not start: {proc.stderr.read().decode()[-2000:]}")


def test_sigkill_mid_exam_loses_nothing_and_the_candidate_resumes(bank_db_url):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(bank_db_url, port)
    try:
        from tests.ui.test_candidate_pages import demo_ticket

        t = demo_ticket(bank_db_url)
        s = httpx.post(f"{base}/api/v1/attempts", json={"ticket": t["ticket"], "code": t["access_code"]}).json()
        aid, h = s["attempt_id"], {"Authorization": f"Bearer {s['token']}"}
        item = httpx.get(f"{base}/api/v1/attempts/{aid}/item", headers=h).json()
        for _ in range(6):
            item = httpx.post(f"{base}/api/v1/attempts/{aid}/answers", headers=h,
                              json={"position": item["position"], "item_id": item["item_id"], "answer": ["A"]}).json()
        before = item
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        server = start_server(bank_db_url, port)
        after = httpx.get(f"{base}/api/v1/attempts/{aid}/item", headers=h).json()
        assert (after["position"], after["item_id"], after["stem"]) == (before["position"], before["item_id"],
                                                                        before["stem"])
        assert after["time_left_s"] <= before["time_left_s"]
        engine = create_engine(bank_db_url)
        with engine.connect() as conn:
            rows = conn.execute(select(AttemptItem.position, AttemptItem.answer).where(AttemptItem.attempt_id == aid)
                                .order_by(AttemptItem.position)).all()
        assert [r.position for r in rows] == list(range(1, 8))
        assert all(r.answer == ["A"] for r in rows[:6]) and rows[6].answer is None
        # ... and the exam goes on to the end
        while not item.get("finished"):
            item = httpx.post(f"{base}/api/v1/attempts/{aid}/answers", headers=h,
                              json={"position": item["position"], "item_id": item["item_id"], "answer": ["B"]}).json()
        result = httpx.get(f"{base}/api/v1/attempts/{aid}/result", headers=h).json()
        with engine.connect() as conn:
            theta = conn.execute(select(Attempt.theta).where(Attempt.id == aid)).scalar()
        engine.dispose()
        assert result["theta"] == theta
    finally:
        server.kill()
        server.wait(timeout=10)
