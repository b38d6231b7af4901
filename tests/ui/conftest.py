"""A real server (uvicorn, in a thread) and a real browser (Debian's chromium via Playwright)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(settings) -> Iterator[str]:
    import uvicorn

    from examengine.app import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def live_server(settings) -> Iterator[str]:
    yield from serve(settings)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def csp_violations(pg) -> list[str]:
    """Console errors of the page that report something the Content-Security-Policy blocked
    (Chromium: "Refused to ... because it violates the following Content Security Policy
    directive"), collected as they come."""
    found: list[str] = []
    pg.on("console", lambda msg: found.append(msg.text) if msg.type == "error" and (
        "Content Security Policy" in msg.text or "Refused to" in msg.text) else None)
    return found


@pytest.fixture
def page(browser):
    """A browser page; a test fails when any page it opened broke the Content-Security-Policy."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15000)
    violations = csp_violations(pg)
    yield pg
    context.close()
    assert not violations, f"the page broke its Content-Security-Policy: {violations}"


@pytest.fixture
def bank_server(bank_db_url) -> Iterator[str]:
    """A real server on a database with the sample bank, the blueprints and the demo exam."""
    from examengine.config import Settings
    from tests.conftest import REPO

    yield from serve(Settings(database_url=bank_db_url, data_dir=REPO))


@pytest.fixture
def linear_exam(bank_db) -> tuple[int, list]:
    """A linear exam delivering one assembled form of 530046-L1 to 3 candidates: (exam id, tickets).
    12 positions: the form's 12 items (the sample bank has no pretest items to fill the
    blueprint's pretest slots)."""
    from zoneinfo import ZoneInfo

    from examengine.services import exams, forms

    assembly = forms.assemble(bank_db, blueprint="530046-L1", n_forms=1, length=12, actor="test", seed=3)
    exam = exams.create_exam(bank_db, form_id=assembly.forms[0].id, actor="test", zone=ZoneInfo("Asia/Shanghai"),
                             name="线性考试")
    roster = "准考证号,姓名,身份证号后四位,考场\n" + "".join(f"L{i:04d},考生{i},{1000 + i},第一考场\n" for i in (1, 2, 3))
    exams.import_roster(bank_db, exam.id, "名单.csv", roster.encode("utf-8"), actor="test")
    return exam.id, exams.tickets(bank_db, exam.id)
