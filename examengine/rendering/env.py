"""The jinja2 environment: autoescaped, StrictUndefined, templates shipped in the package."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from examengine.exam.items import LETTERS, STATUS_LABELS, ItemStatus, split_images

ACTION_LABELS = {"created": "新增", "new_version": "新版本", "updated": "更新", "unchanged": "无变化",
                 "edited": "编辑", "status": "状态变更", "irt_updated": "参数更新", "comment": "审核意见"}


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


def local_time(iso: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO timestamp (UTC) as people here read it: '2026-11-22 11:40' in China Standard Time
    (``fmt``: another strftime format, e.g. '%H:%M:%S')."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from examengine.config import DISPLAY_TIMEZONE

    return datetime.fromisoformat(iso).astimezone(ZoneInfo(DISPLAY_TIMEZONE)).strftime(fmt)


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


#: An inline script (a <script> element without src) and its text.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)


def inline_scripts() -> list[tuple[str, str]]:
    """(template, text) of every inline script in the templates."""
    env = environment()
    out = []
    for name in env.list_templates(extensions=["html"]):
        source = env.loader.get_source(env, name)[0]
        out += [(name, body) for body in INLINE_SCRIPT.findall(source)]
    return out


def is_static(script: str) -> bool:
    """Whether a script's text is rendered as written (no Jinja inside), so its hash is known."""
    return not any(tag in script for tag in ("{{", "{%", "{#"))


def csp_hash(script: str) -> str:
    """A CSP hash source (``'sha256-...'``) of a script's exact text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


@lru_cache(maxsize=1)
def inline_script_hashes() -> tuple[str, ...]:
    """The CSP hash sources of the templates' inline scripts: the page CSP allows these and no
    other inline script. A script with Jinja inside has no fixed hash and is left out (the
    browser then blocks it; tests/test_web_security.py fails first): keep inline scripts static,
    and pass values to them through data- attributes."""
    return tuple(dict.fromkeys(csp_hash(body) for _, body in inline_scripts() if is_static(body)))
