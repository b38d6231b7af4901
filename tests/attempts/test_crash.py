"""Killing the server (SIGKILL) mid-exam loses no submitted answer, and the candidate resumes
at the same item with the same theta."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from datetime import UTC, datetime, timedelta

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


def sign_in_and_open(base: str, url: str) -> tuple[int, dict, dict]:
    """The first demo candidate signs in over HTTP and opens the first item: (attempt, headers, item)."""
    from tests.ui.test_candidate_pages import demo_ticket

    t = demo_ticket(url)
    s = httpx.post(f"{base}/api/v1/attempts", json={"ticket": t["ticket"], "code": t["access_code"]}).json()
    aid, h = s["attempt_id"], {"Authorization": f"Bearer {s['token']}"}
    return aid, h, httpx.get(f"{base}/api/v1/attempts/{aid}/item", headers=h).json()


def test_sigkill_mid_exam_loses_nothing_and_the_candidate_resumes(bank_db_url):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(bank_db_url, port)
    try:
        aid, h, item = sign_in_and_open(base, bank_db_url)
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


def test_an_outage_longer_than_the_time_left_is_given_back_and_nothing_is_closed_by_reading(bank_db_url):
    """SIGKILL, the candidate's time runs out while the server is down, restart: neither the
    candidate's page nor the monitor closes the attempt; `examengine exams extend` gives the time
    back; the candidate continues at the same pending item; the audit log shows the extend."""
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.db.models import AuditEvent, Exam
    from examengine.services.accounts import Role, create_user

    engine = create_engine(bank_db_url)
    with make_sessionmaker(make_engine(bank_db_url))() as db:
        create_user(db, username="proctor-wang", password="outage-test-passphrase-2026", role=Role.ADMIN)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(bank_db_url, port)
    try:
        aid, h, item = sign_in_and_open(base, bank_db_url)
        item = httpx.post(f"{base}/api/v1/attempts/{aid}/answers", headers=h,
                          json={"position": item["position"], "item_id": item["item_id"], "answer": ["A"]}).json()
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        with engine.begin() as conn:  # the outage outlasts the candidate's remaining time
            exam_id, limit = conn.execute(select(Attempt.exam_id, Exam.time_limit_minutes).join(Exam)
                                          .where(Attempt.id == aid)).one()
            conn.execute(Attempt.__table__.update().where(Attempt.id == aid).values(
                started_at=datetime.now(UTC) - timedelta(minutes=limit + 3)))
        server = start_server(bank_db_url, port)
        staff = {"Authorization": "Bearer " + httpx.post(f"{base}/api/v1/sessions", json={
            "username": "proctor-wang", "password": "outage-test-passphrase-2026"}).json()["token"]}
        monitor = {r["attempt_id"]: r for r in httpx.get(f"{base}/api/v1/exams/{exam_id}/attempts", headers=staff).json()}
        assert monitor[aid]["status"] == "time_up"
        assert httpx.get(f"{base}/proctor/exams/{exam_id}", headers=staff).status_code == 200  # the monitor page
        assert httpx.get(f"{base}/api/v1/attempts/{aid}/item", headers=h).json()["reason"] == "time"
        with engine.connect() as conn:
            assert conn.execute(select(Attempt.status).where(Attempt.id == aid)).scalar_one() == "in_progress"
        env = {**os.environ, "EXAMENGINE_DATABASE_URL": bank_db_url, "EXAMENGINE_DATA_DIR": str(REPO)}
        cli = subprocess.run([str(Path(sys.executable).parent / "examengine"), "exams", "extend", str(exam_id), "--minutes", "5",
                              "--reason", "服务器宕机", "--as", "proctor-wang"], env=env, capture_output=True, text=True)
        assert cli.returncode == 0 and "已为 1 名考生延长 5 分钟" in cli.stdout, cli.stdout + cli.stderr
        after = httpx.get(f"{base}/api/v1/attempts/{aid}/item", headers=h).json()
        assert (after["position"], after["item_id"], after["stem"]) == (item["position"], item["item_id"], item["stem"])
        assert 4 * 60 < after["time_left_s"] <= 5 * 60
        done = httpx.post(f"{base}/api/v1/attempts/{aid}/answers", headers=h,
                          json={"position": after["position"], "item_id": after["item_id"], "answer": ["B"]})
        assert done.status_code == 200 and done.json()["recorded"] is True
        with engine.connect() as conn:
            extend = conn.execute(select(AuditEvent.actor, AuditEvent.after).where(
                AuditEvent.action == "attempt.extend")).one()
        assert extend.actor == "proctor-wang" and extend.after["minutes"] == 5 and extend.after["reason"] == "服务器宕机"
    finally:
        server.kill()
        server.wait(timeout=10)
        engine.dispose()
