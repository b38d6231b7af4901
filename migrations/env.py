"""Alembic environment: examengine's models, its settings' URL, batch mode for SQLite."""

from __future__ import annotations

from alembic import context

from examengine.config import Settings
from examengine.db import models  # noqa: F401  (registers the tables)
from examengine.db.base import Base
from examengine.db.engine import make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    # SQLite: batch mode rebuilds a table (create a copy, copy the rows, drop the old, rename). With
    # foreign keys enforced, dropping a table that other rows reference fails, so upgrading a
    # database that holds exams and attempts would fail half-way. Foreign keys are off during the
    # migration (SQLite takes the pragma only outside a transaction) and every row is checked
    # against them before the migration commits.
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        if connection.in_transaction():
            connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # end the transaction the pragma auto-began: the migration opens its own
    # SQLite's DDL is transactional, but Alembic treats SQLite as if it were not (it commits after
    # each revision) and pysqlite begins a transaction only before DML, so a CREATE TABLE ran in
    # autocommit: a revision failing half-way left the `_alembic_tmp_` copy of a rebuilt table
    # behind (and every later upgrade failed on it), and the foreign-key check below came after the
    # commit. Here the whole upgrade is one transaction, opened by an explicit BEGIN: a failure
    # leaves the database exactly as it was.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        transactional_ddl=True if sqlite else None,
    )
    try:
        with context.begin_transaction():
            if sqlite:
                connection.exec_driver_sql("BEGIN")
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows that break a foreign key: {broken[:5]}")
    finally:
        if sqlite:
            if connection.in_transaction():  # only a failed migration's, which must not be kept
                connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
