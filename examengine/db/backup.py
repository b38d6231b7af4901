"""An online backup of a SQLite database (``examengine db backup``), safe while the server runs.

SQLite's backup API copies the database page by page under its own locking, so the copy is a
consistent snapshot even while workers write (WAL mode); copying the file with ``cp`` is not.
PostgreSQL has ``pg_dump`` for the same purpose (docs/deploy.md).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from examengine.errors import ExamEngineError


def backup_sqlite(url: str, dest: Path) -> int:
    """Copy the SQLite database at ``url`` into the new file ``dest``; returns its size in bytes."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise ExamEngineError("examengine db backup 只用于 SQLite；PostgreSQL 请用 pg_dump 备份"
                              "（见 docs/deploy.md）。")
    if parsed.database in (None, "", ":memory:") or not Path(parsed.database).is_file():
        raise ExamEngineError(f"找不到 SQLite 数据库文件：{parsed.database or '（内存库）'}")
    if dest.exists():
        raise ExamEngineError(f"备份文件已存在，不会覆盖：{dest}")
    source = sqlite3.connect(f"file:{parsed.database}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
            if target.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise ExamEngineError(f"备份文件未通过完整性检查：{dest}")
        finally:
            target.close()
    finally:
        source.close()
    return dest.stat().st_size
