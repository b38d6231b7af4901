"""Run Alembic migrations programmatically (``examengine db upgrade``)."""

from __future__ import annotations



from alembic import command
from alembic.config import Config

from examengine.config import PACKAGE_DIR


def alembic_config(url: str) -> Config:
    ini = PACKAGE_DIR.parent / "alembic.ini"
    cfg = Config(str(ini))
    cfg.set_main_option("script_location", str(PACKAGE_DIR.parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from sqlalchemy import create_engine
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()



