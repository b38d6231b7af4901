"""schemathesis against /openapi.json of the real server: generated requests to every operation,
as an admin, find no server error and no response that breaks its schema. (Run through its CLI:
its pytest plugin does not support this pytest yet.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import STAFF_PASSWORD, ensure_staff
from tests.exams.test_crash import free_port, start_server


def test_schemathesis_finds_no_server_error_and_no_schema_violation(bank_db_url):
    """On SQLite, and on PostgreSQL when EXAMENGINE_TEST_POSTGRES_URL is set (a database as
    ``examengine init`` leaves it: the catalog and the sample bank)."""
    url = bank_db_url
    ensure_staff(url, "fuzzer", "admin")
    port = free_port()
    server = start_server(url, port)
    try:
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(f"{base}/api/v1/sessions", json={"username": "fuzzer", "password": STAFF_PASSWORD}).json()["token"]
        st = shutil.which("st", path=str(Path(sys.executable).parent))
        result = subprocess.run(
            [st, "run", f"{base}/openapi.json", "-H", f"Authorization: Bearer {token}",
             "--checks", "not_a_server_error,response_schema_conformance", "--max-examples", "3", "--seed", "1", "--request-timeout", "120",
             "--phases", "examples,fuzzing",
             "--exclude-path-regex", "sessions", "--no-color"],
            capture_output=True, text=True, timeout=400,
        )
    finally:
        server.kill()
        server.wait(timeout=10)
    failures = result.stdout.find("FAILURES")
    tail = result.stdout[failures:][:20_000] if failures >= 0 else result.stdout[-3000:]
    assert result.returncode == 0, tail
    assert "Tested:" in result.stdout and "passed" in result.stdout
