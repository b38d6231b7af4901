"""The jinja2 environment: autoescaped, StrictUndefined, templates shipped in the package."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from examengine.exam.items import LETTERS, STATUS_LABELS, ItemStatus, split_images

ACTION_LABELS = {"created": "新增", "new_version": "新版本", "updated": "更新", "unchanged": "无变化",
                 "edited": "编辑", "status": "状态变更", "irt_updated": "参数更新"}


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("examengine", "templates"),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_time"] = local_time
    env.filters["image_parts"] = split_images
    env.globals.update(
        LETTERS=LETTERS,
        STATUSES=[(s.value, STATUS_LABELS[s]) for s in ItemStatus],
        STATUS_LABELS={s.value: STATUS_LABELS[s] for s in ItemStatus},
        ACTION_LABELS=ACTION_LABELS,
    )
    return env


def local_time(iso: str) -> str:
    """An ISO timestamp (UTC) as people here read it: '2026-11-22 11:40' in China Standard Time."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from examengine.config import DISPLAY_TIMEZONE

    return datetime.fromisoformat(iso).astimezone(ZoneInfo(DISPLAY_TIMEZONE)).strftime("%Y-%m-%d %H:%M")


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
