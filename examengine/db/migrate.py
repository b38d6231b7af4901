"""Run Alembic migrations programmatically (``examengine db upgrade``), and say plainly, before
anything opens the database, what is wrong with where it lives or which version it is."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from examengine.config import resource_path
from examengine.errors import DatabaseNotReadyError


def alembic_config(url: str) -> Config:
    cfg = Config(str(resource_path("alembic.ini")))
    cfg.set_main_option("script_location", str(resource_path("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate to ``revision``; refused, with the right advice, where the file cannot live or the
    database is newer than this code (Alembic cannot go down to a revision it does not know)."""
    check_location(url)
    current = _current_or_refuse(url)
    if current is not None and not _known(url, current):
        raise _newer_schema(url, current)
    command.upgrade(alembic_config(url), revision)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``sqlite:///x.db`` or ``sqlite:///file:x.db?mode=ro&uri=true``),
    None for other databases and in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    name = parsed.database
    if name.startswith("file:"):
        name = name[len("file:"):].split("?", 1)[0]
        if name in ("", ":memory:") or parsed.query.get("mode") == "memory":
            return None
    return Path(name)


def check_location(url: str) -> None:
    """A SQLite file's folder must exist and be writable (SQLite keeps ``-wal`` and ``-shm``
    files beside the database): refuse, naming the folder and what to do, before SQLite fails
    with "unable to open database file"."""
    path = sqlite_path(url)
    if path is None:
        return
    folder = path.absolute().parent
    if not folder.is_dir():
        raise DatabaseNotReadyError(
            f"数据库文件 {path} 所在的目录 {folder} 不存在：请先创建该目录（mkdir -p {folder}），"
            "或用 EXAMENGINE_DATABASE_URL 指向一个已有目录中的数据库文件，然后运行 examengine init。")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseNotReadyError(
            f"数据库目录 {folder} 不可写：SQLite 需要在数据库文件旁边创建 {path.name}-wal 和 {path.name}-shm 文件。"
            f"请让运行 examengine 的用户可以写这个目录（例如 chown 该用户 {folder}，或 chmod u+w {folder}），"
            "或把数据库文件放到可写的目录并修改 EXAMENGINE_DATABASE_URL。")


def current_revision(url: str) -> str | None:
    path = sqlite_path(url)
    if path is not None and not path.exists():  # do not create an empty file just to look
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def ensure_current(url: str) -> None:
    """Refuse to work on a database that is not migrated to head, with a message saying what to
    do: create or free its folder, run init (empty), db upgrade (older), or upgrade examengine
    itself (a database migrated by a newer examengine)."""
    check_location(url)
    current, head = _current_or_refuse(url), head_revision(url)
    if current == head:
        return
    if current is None:
        raise _missing_or_empty(url, head)
    if not _known(url, current):
        raise _newer_schema(url, current)
    raise DatabaseNotReadyError(
        f"数据库（{_safe_url(url)}）的版本为 {current}，最新版本为 {head}：请先运行 examengine init（或 examengine db upgrade）。")


def _missing_or_empty(url: str, head: str | None) -> DatabaseNotReadyError:
    """No schema yet. For a SQLite file that does not exist, name the absolute path looked at:
    a relative path (the default ``sqlite:///examengine.db``) is read in the working directory,
    so a command run from another folder misses the database ``make run`` made, and advising
    ``init`` there would make a second, empty one."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        where = path.absolute()
        relative = "" if path.is_absolute() else f"（相对路径按当前目录 {Path.cwd()} 解析）"
        return DatabaseNotReadyError(
            f"找不到数据库文件 {where}{relative}。如果数据库已在别处建好（make run 把它建在项目目录中），"
            "请回到那个目录运行，或设置 EXAMENGINE_DATABASE_URL 指向它（绝对路径，如 "
            "sqlite:////srv/examengine/examengine.db）；只有确实要在这里新建一个数据库时，才运行 examengine init。")
    return DatabaseNotReadyError(
        f"数据库（{_safe_url(url)}）是空库，最新版本为 {head}：请先运行 examengine init（或 examengine db upgrade）。")


def _current_or_refuse(url: str) -> str | None:
    try:
        return current_revision(url)
    except DBAPIError as exc:
        raise DatabaseNotReadyError(
            f"无法打开数据库（{_safe_url(url)}）：{exc.orig}。请确认数据库文件及其目录存在、运行 examengine 的用户"
            "可以读写它们（SQLite 还要在同一目录创建 -wal、-shm 文件），或数据库服务器正在运行且地址、账号正确。") from None


def _known(url: str, revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config(url)).get_revision(revision) is not None
    except CommandError:
        return False


def _newer_schema(url: str, current: str) -> DatabaseNotReadyError:
    return DatabaseNotReadyError(
        f"数据库（{_safe_url(url)}）的版本 {current} 比本程序认识的最新版本 {head_revision(url)} 更新："
        "它已被更新版本的 examengine 迁移过。请把 examengine 升级到与数据库相同或更新的版本后再启动；"
        "不要运行 examengine init 或 db upgrade（它们不能让数据库回到旧版本）。")


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
