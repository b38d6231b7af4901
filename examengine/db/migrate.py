"""Run Alembic migrations programmatically (``examengine db upgrade``)."""

from __future__ import annotations



from alembic import command
from alembic.config import Config

from examengine.config import resource_path


def alembic_config(url: str) -> Config:
    cfg = Config(str(resource_path("alembic.ini")))
    cfg.set_main_option("script_location", str(resource_path("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from sqlalchemy import create_engine
    from alembic.runtime.migration import MigrationContext

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        from pathlib import Path

        if not Path(parsed.database).exists():  # do not create an empty file just to look
            return None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()





def ensure_current(url: str) -> None:
    """Refuse to work on a database that is not migrated to head, with a message saying what to do."""
    from examengine.errors import DatabaseNotReadyError

    current, head = current_revision(url), head_revision(url)
    if current != head:
        raise DatabaseNotReadyError(
            f"数据库（{_safe_url(url)}）的版本为 {current or '空库'}，最新版本为 {head}："
            "请先运行 examengine init（或 examengine db upgrade）。"
        )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
