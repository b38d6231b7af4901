"""The jinja2 environment: autoescaped, StrictUndefined, templates shipped in the package.

Times are shown in the centre's zone (``Settings.timezone``): one environment per zone, its
``local_time`` and ``zone_label`` filters bound to it. :func:`render` takes the zone it is given,
else the zone of the app serving the request (``app.py`` sets it per request with
:func:`display_zone` from the app's own settings)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from examengine.config import DEFAULT_TIMEZONE
from examengine.config import local_time as format_local
from examengine.config import zone_label as label_of
from examengine.exam.items import LETTERS, STATUS_LABELS, ItemStatus, split_images
from examengine.rendering.qr import qr_png_uri

ACTION_LABELS = {"created": "新增", "new_version": "新版本", "updated": "更新", "unchanged": "无变化",
                 "edited": "编辑", "status": "状态变更", "irt_updated": "参数更新", "comment": "审核意见"}


#: The zone of the app serving the current request; outside an app (a script rendering a page)
#: the settings' default.
_ZONE: ContextVar[str] = ContextVar("examengine_display_zone", default=DEFAULT_TIMEZONE)


@contextmanager
def display_zone(zone: ZoneInfo | str) -> Iterator[None]:
    """Render pages within the block in ``zone`` (app.py: around every request, from the app's settings)."""
    token = _ZONE.set(zone.key if isinstance(zone, ZoneInfo) else zone)
    try:
        yield
    finally:
        _ZONE.reset(token)


@lru_cache(maxsize=8)
def environment(zone: str = DEFAULT_TIMEZONE) -> Environment:
    tz = ZoneInfo(zone)
    env = Environment(
        loader=PackageLoader("examengine", "templates"),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_time"] = lambda iso, fmt="%Y-%m-%d %H:%M": local_time(iso, tz, fmt)
    env.filters["zone_label"] = lambda iso: zone_label(iso, tz)
    env.filters["qr"] = qr_png_uri
    env.filters["image_parts"] = split_images
    env.filters["zh_numeral"] = zh_numeral
    # seconds left -> the clock time they run out at, as the centre reads it (a timer's end time as text)
    env.filters["ends_at"] = lambda left_s, fmt="%H:%M": format_local(
        datetime.now(UTC) + timedelta(seconds=int(left_s)), tz, fmt)
    env.globals.update(
        LETTERS=LETTERS,
        STATUSES=[(s.value, STATUS_LABELS[s]) for s in ItemStatus],
        STATUS_LABELS={s.value: STATUS_LABELS[s] for s in ItemStatus},
        ACTION_LABELS=ACTION_LABELS,
        ZONE_LABEL=lambda: label_of(tz),  # the zone's name now: a table header's "时间（北京时间）"
    )
    return env


_DIGITS = "零一二三四五六七八九"


def zh_numeral(n: int) -> str:
    """1–99 in Chinese numerals, as a paper numbers its parts (一、二、…十、十一、…二十一、):
    '十二' for 12, '二十' for 20. Other numbers stay Arabic."""
    if not 1 <= n <= 99:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def local_time(iso: str, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO timestamp (UTC when it carries no offset) as people at the centre read it:
    '2026-11-22 11:40' in ``zone`` (``fmt``: another strftime format, e.g. '%H:%M:%S')."""
    return format_local(datetime.fromisoformat(iso), zone, fmt)


def zone_label(iso: str, zone: ZoneInfo) -> str:
    """The zone's name at that time: '北京时间', 'Europe/Berlin UTC+01:00' (summer: +02:00)."""
    at = datetime.fromisoformat(iso)
    return label_of(zone, at if at.tzinfo else at.replace(tzinfo=ZoneInfo("UTC")))


def render(template: str, *, zone: ZoneInfo | str | None = None, **context) -> str:
    """A page in ``zone``, by default the zone of the app serving the request."""
    key = _ZONE.get() if zone is None else zone.key if isinstance(zone, ZoneInfo) else zone
    return environment(key).get_template(template).render(**context)


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
