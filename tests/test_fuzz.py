"""schemathesis against /openapi.json of the real server: generated requests to every operation,
as an admin, pass all of schemathesis' checks (no server error; every status code, content type,
header and body as documented; ...). (Run through its CLI: its pytest plugin does not support this
pytest yet.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import STAFF_PASSWORD, ensure_staff
from tests.attempts.test_crash import free_port, start_server

#: A schema-valid upload may still hold no roster or item set: the file's content is not
#: something JSON Schema can state, and refusing it is a 422 with every problem listed.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
"""


def _run(st: str, base: str, token: str, config: Path, *select: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [st, "--config-file", str(config), "run", f"{base}/openapi.json", "-H", f"Authorization: Bearer {token}",
         "--checks", "all", "--max-examples", "3", "--seed", "1", "--request-timeout", "120",
         # the slowest legitimate request, sheets.pdf with the most blank sheets (464), took 52 s
         # on a shared 2-core machine: held to the request timeout, not to a 10 s default
         "--max-response-time", "120",
         "--phases", "examples,fuzzing", "--no-color", *select],
        capture_output=True, text=True, timeout=400,
    )


def _failures(result: subprocess.CompletedProcess) -> str:
    failures = result.stdout.find("FAILURES")
    return result.stdout[failures:][:20_000] if failures >= 0 else result.stdout[-3000:] + result.stderr[-2000:]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(bank_db_url, tmp_path):
    """On SQLite, and on PostgreSQL when EXAMENGINE_TEST_POSTGRES_URL is set (a database as
    ``examengine init`` leaves it: the catalog and the sample bank). Every operation is tested:
    the staff sessions in a second run, because a generated ``DELETE /api/v1/sessions`` signs
    the fuzzer out and every request after it would be a 401."""
    url = bank_db_url
    ensure_staff(url, "fuzzer", "admin")
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    port = free_port()
    server = start_server(url, port)
    try:
        base = f"http://127.0.0.1:{port}"

        def token() -> str:
            return httpx.post(f"{base}/api/v1/sessions",
                              json={"username": "fuzzer", "password": STAFF_PASSWORD}).json()["token"]

        st = shutil.which("st", path=str(Path(sys.executable).parent))
        rest = _run(st, base, token(), config, "--exclude-path", "/api/v1/sessions")
        sessions = _run(st, base, token(), config, "--include-path", "/api/v1/sessions")
    finally:
        server.kill()
        server.wait(timeout=10)
    for result in (rest, sessions):
        assert result.returncode == 0, _failures(result)
        assert "passed" in result.stdout
    # the two runs together test every operation of the document
    (total,) = set(re.findall(r"Selected: \d+/(\d+)", rest.stdout + sessions.stdout))
    tested = sum(int(n) for n in re.findall(r"Tested: (\d+)", rest.stdout + sessions.stdout))
    assert tested == int(total), rest.stdout[-3000:] + sessions.stdout[-3000:]
