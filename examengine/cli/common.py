"""Shared pieces of the CLI: consoles, settings, a database session and error handling."""

from __future__ import annotations

import importlib
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session

from examengine.config import Settings
from examengine.errors import DataFileError, ExamEngineError

out = Console(soft_wrap=True)
KIND_NAMES = {"standard": "标准", "level": "级别", "domain": "工作领域", "task": "工作任务",
              "requirement": "职业技能要求", "correction": "原文更正"}
err = Console(stderr=True, soft_wrap=True)


def settings() -> Settings:
    return Settings()


@contextmanager
def session() -> Iterator[Session]:
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.db.migrate import ensure_current

    url = settings().database_url
    ensure_current(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as db:
            yield db
    finally:
        engine.dispose()


def handles_errors(fn: Callable) -> Callable:
    """Print a domain error's message (and each problem) and exit with code 1."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DataFileError as exc:
            err.print(f"[red]错误：[/red]数据有误，未写入任何内容（{len(exc.problems)} 处）", highlight=False)
            for p in exc.problems:
                err.print(f"  - {p}", highlight=False, markup=False)
            raise typer.Exit(1) from None
        except ExamEngineError as exc:
            err.print(f"[red]错误：[/red]{exc.message}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def require_extra(module: str, extra: str, what: str) -> None:
    """Stop before any work, in Chinese, when a command needs an optional dependency that is not
    installed (girth in ``[reference]``, matplotlib in ``[plots]``)."""
    try:
        importlib.import_module(module)
    except ImportError:
        err.print("[red]错误：[/red]" + escape(f"{what}需要可选依赖 {module}，当前环境未安装。"
                  f"请安装：pip install 'examengine[{extra}]'（开发环境 make test 已包含）。"), highlight=False)
        raise typer.Exit(1) from None


def json_safe(x):
    """``x`` as strict JSON can hold it: numbers that are not finite (NaN: undefined, such as the
    accuracy of an empty band; ±inf: unbounded, such as the lowest band's lower edge) become
    null, never ``NaN`` or ``-Infinity``, which JSON parsers other than Python's refuse. NumPy
    scalars become Python numbers; tuples become lists."""
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    if not isinstance(x, str | bytes | bool | int | float) and callable(getattr(x, "item", None)):
        x = x.item()  # a NumPy scalar
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def print_json(data) -> None:
    """Every ``--format json`` of the CLI: strict JSON (see :func:`json_safe`), UTF-8, indented."""
    sys.stdout.write(json.dumps(json_safe(data), ensure_ascii=False, indent=2, allow_nan=False) + "\n")


