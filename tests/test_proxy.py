"""The app behind a real nginx (Debian's package) on loopback, configured by
docs/deploy/nginx-examengine.conf: TLS at nginx, two uvicorn workers, nginx's default
``Host $proxy_host``. A staff sign-in and a roster import go through; a cross-origin POST does
not; a client's forged X-Forwarded-For does not reach the sign-in record."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from examengine.db.models import Candidate, Exam
from tests.conftest import REPO, STAFF_PASSWORD, _initialize, ensure_staff

pytestmark = pytest.mark.proxy

NGINX = "/usr/sbin/nginx"
CONF = REPO / "docs" / "deploy" / "nginx-examengine.conf"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _site_conf(tls_port: int, http_port: int, app_port: int, cert: Path, key: Path) -> str:
    text = CONF.read_text()
    for old, new in (("listen 443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;"),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("server_name exam.example.cn;", "server_name localhost;"),
                     ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
                     ("/etc/ssl/examengine/fullchain.pem", str(cert)),
                     ("/etc/ssl/examengine/privkey.pem", str(key))):
        assert old in text, f"{CONF.name} no longer has {old!r}: update this test with it"
        text = text.replace(old, new)
    return text


def _wait(url: str, proc: subprocess.Popen, what: str, **kw) -> None:
    deadline = time.monotonic() + 180  # two workers importing numpy, scipy, weasyprint on a busy machine
    while True:
        try:
            httpx.get(url, timeout=2, **kw)
            return
        except httpx.TransportError:
            assert proc.poll() is None, f"{what} exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            assert time.monotonic() < deadline, f"{what} did not answer"
            time.sleep(0.2)


@pytest.fixture
def proxied(tmp_path: Path):
    if not Path(NGINX).exists():
        pytest.fail(f"{NGINX} is missing: `make test` installs Debian's nginx (apt-get install nginx-light)")
    url = f"sqlite:///{tmp_path / 'exam.db'}"
    _initialize(url)
    ensure_staff(url, "proxy-admin", "admin")
    tls_port, http_port, app_port = _free_port(), _free_port(), _free_port()
    public = f"https://localhost:{tls_port}"

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    (prefix / "site.conf").write_text(_site_conf(tls_port, http_port, app_port, cert, key))
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers may then read the temp dirs below
    (prefix / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log;\n"
        "events { worker_connections 64; }\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n"
        f"  fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n"
        f"  include {prefix}/site.conf;\n}}\n")

    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAMENGINE_")}
    env.update(EXAMENGINE_DATABASE_URL=url, EXAMENGINE_DATA_DIR=str(REPO), EXAMENGINE_PUBLIC_URL=public,
               EXAMENGINE_FORWARDED_ALLOW_IPS="127.0.0.1")
    examengine = shutil.which("examengine", path=str(Path(sys.executable).parent)) or "examengine"
    app = subprocess.Popen([examengine, "serve", "--port", str(app_port), "--workers", "2"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait(f"http://127.0.0.1:{app_port}/healthz", app, "examengine serve")
        _wait(f"{public}/healthz", nginx, "nginx", verify=False)
        yield public, url, http_port
    finally:
        for proc in (nginx, app):
            proc.terminate()
        for proc in (nginx, app):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_through_nginx_staff_sign_in_and_a_roster_import_work_and_a_cross_origin_post_is_refused(proxied):
    public, url, http_port = proxied
    engine = create_engine(url)
    with engine.connect() as conn:
        exam_id = conn.execute(select(Exam.id).where(Exam.name.like("演示考试%"))).scalar_one()
        before = conn.execute(select(func.count()).select_from(Candidate).where(Candidate.exam_id == exam_id)).scalar()

    plain = httpx.get(f"http://127.0.0.1:{http_port}/proctor", follow_redirects=False)
    assert plain.status_code == 301 and plain.headers["location"].startswith("https://")

    with httpx.Client(base_url=public, verify=False, follow_redirects=False, headers={"origin": public}) as c:
        assert c.get("/login").status_code == 200
        r = c.post("/login", data={"username": "proxy-admin", "password": STAFF_PASSWORD})
        assert r.status_code == 303 and "ee_staff" in r.cookies, r.text
        roster = "准考证号,姓名\nNGX001,代理甲\nNGX002,代理乙\n".encode()
        r = c.post(f"/proctor/exams/{exam_id}/roster", files={"file": ("名单.csv", roster, "text/csv")})
        assert r.status_code == 303 and r.headers["location"] == f"/proctor/exams/{exam_id}", r.text[:500]
        assert "新增 2 名" in c.get(r.headers["location"]).text  # the flash cookie came back through nginx

        evil = c.post(f"/proctor/exams/{exam_id}/roster", files={"file": ("名单.csv", roster, "text/csv")},
                      headers={"origin": "https://evil.example"})
        assert evil.status_code == 403 and "跨站" in evil.json()["message"]

        # a candidate signs in through nginx with a forged X-Forwarded-For: nginx overwrites it
        from tests.ui.test_candidate_pages import demo_ticket

        t = demo_ticket(url)
        r = c.post("/api/v1/attempts", json={"ticket": t["ticket"], "code": t["access_code"]},
                   headers={"x-forwarded-for": "203.0.113.9"})
        assert r.status_code == 200, r.text
        addresses = {s["address"] for s in c.get(f"/api/v1/exams/{exam_id}/sign-ins").json()}
        assert addresses == {"127.0.0.1"}

    with engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(Candidate).where(Candidate.exam_id == exam_id)).scalar()
    engine.dispose()
    assert after == before + 2
