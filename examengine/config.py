"""Settings, read once from the environment (prefix ``EXAMENGINE_``) and passed down.

Nothing here opens a database or a file: ``Settings()`` only reads variables.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
#: Times are stored in UTC and shown (and typed) in the centre's zone, EXAMENGINE_TIMEZONE; this
#: is its default. Code takes the zone from the settings it is given, never from this name.
DEFAULT_TIMEZONE = "Asia/Shanghai"
#: Zones people here name in words; any other is shown by its IANA name and UTC offset.
ZONE_WORDS = {"Asia/Shanghai": "北京时间", "Asia/Chongqing": "北京时间", "Asia/Harbin": "北京时间", "PRC": "北京时间"}


#: Shipped with the app: at the top of a source checkout (where developers edit them) and, in a
#: built wheel, as copies under ``examengine/_data/`` (setup.py puts them there).
SHIPPED_DATA = ("alembic.ini", "migrations", "blueprints", "itembank")
PACKAGED_DATA_DIR = PACKAGE_DIR / "_data"


def _checkout_root() -> Path | None:
    root = PACKAGE_DIR.parent
    if (root / "alembic.ini").is_file() and (root / "migrations").is_dir():
        return root
    return None


def resource_path(name: str) -> Path:
    """One of ``SHIPPED_DATA``: the checkout's own when running from a source checkout (or an
    editable install), else the copy inside the installed package."""
    if name not in SHIPPED_DATA:
        raise ValueError(f"not shipped data: {name}")
    root = _checkout_root()
    return (root if root is not None else PACKAGED_DATA_DIR) / name


def _default_data_dir() -> Path:
    """The folder holding ``blueprints/`` (with ``standards/``) and ``itembank/``: the project
    root of a source checkout; else the working directory when it holds them; else the copies
    installed with the package."""
    root = _checkout_root()
    if root is not None and (root / "blueprints" / "standards").is_dir():
        return root
    if (Path.cwd() / "blueprints" / "standards").is_dir() or not PACKAGED_DATA_DIR.is_dir():
        return Path.cwd()
    return PACKAGED_DATA_DIR


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMENGINE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///examengine.db",
        description="Any SQLAlchemy URL; sqlite:///examengine.db (in the working directory) by default, "
        "postgresql+psycopg://user@host/db for scale.",
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Folder holding blueprints/ (standards catalog, blueprints) and itembank/.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    echo_sql: bool = False
    max_upload_mb: int = Field(default=50, description="Largest accepted request body (uploads), in MB.")
    secure_cookies: bool = Field(
        default=False,
        description="Mark every cookie the app sets Secure (sent over HTTPS only): set it when the server is "
                    "reached over HTTPS, e.g. behind a TLS-terminating proxy.")
    signin_failures_per_user: int = Field(
        default=5, ge=1, le=1000,
        description="Failed staff sign-ins allowed per user within the window; then 429 until it passes.")
    signin_failures_per_address: int = Field(
        default=20, ge=1, le=100000,
        description="Failed staff sign-ins allowed per client address within the window (raise it behind a "
                    "reverse proxy, where every request has the proxy's address).")
    signin_window_minutes: int = Field(default=15, ge=1, le=24 * 60,
                                       description="The window of the sign-in failure counts, in minutes.")
    candidate_threads: int | None = Field(
        default=None, ge=1, le=64,
        description="Threads per worker for the candidates' requests (default: 1 on SQLite, where every "
                    "request is CPU and one file; 2 on a database server, to overlap its round trips).")

    timezone: str = Field(
        default=DEFAULT_TIMEZONE,
        description="The centre's time zone (an IANA name such as Asia/Shanghai or Asia/Urumqi): exam windows "
                    "typed without an offset are read in it, and staff pages, exports and tickets show times in it.")
    public_url: str | None = Field(
        default=None,
        description="The address people open, as the reverse proxy serves it (https://exam.example.cn): "
                    "its origin is accepted by the same-origin check of staff and candidate forms.")
    trusted_origins: str = Field(
        default="",
        description="More origins the same-origin check accepts, comma-separated "
                    "(https://exam.example.cn,https://10.0.0.5).")
    item_findings_block: Literal["none", "error", "warning"] = Field(
        default="none",
        description="Whether the item checker's findings block an import (docs/item-quality.md): 'none' "
                    "(they are reported only), 'error' (findings of severity error block) or 'warning' "
                    "(errors and warnings block).")
    monitor_refresh_seconds: int = Field(
        default=20, ge=1, le=600,
        description="How often the proctor's live monitor fetches the attempts table, in seconds.")
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Addresses of the reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are "
                    "believed (uvicorn's --forwarded-allow-ips: comma-separated addresses or networks, "
                    "'*' for any; empty: believe none).")

    @field_validator("timezone")
    @classmethod
    def _timezone_is_an_iana_zone(cls, value: str) -> str:
        value = value.strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"EXAMENGINE_TIMEZONE must be an IANA time zone such as Asia/Shanghai or "
                             f"Asia/Urumqi, not {value!r}") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_an_origin(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if origin_of(value) is None:
            raise ValueError(f"EXAMENGINE_PUBLIC_URL must be an http(s) address such as https://exam.example.cn, "
                             f"not {value!r}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def candidate_thread_count(self) -> int:
        if self.candidate_threads is not None:
            return self.candidate_threads
        return 1 if self.database_url.startswith("sqlite") else 2

    @property
    def standards_dir(self) -> Path:
        return self.data_dir / "blueprints" / "standards"

    @property
    def blueprints_dir(self) -> Path:
        return self.data_dir / "blueprints"

    @property
    def itembank_dir(self) -> Path:
        return self.data_dir / "itembank"


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) address, lower-cased and without a default port, as a
    browser sends it in ``Origin``; None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == {"http": 80, "https": 443}[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def allowed_origins(settings: Settings) -> frozenset[str]:
    """Origins, besides the request's own Host, from which a cookie-carrying form may be posted:
    ``EXAMENGINE_PUBLIC_URL`` and ``EXAMENGINE_TRUSTED_ORIGINS``. Behind a reverse proxy the Host
    the app sees is the proxy's upstream name (nginx's default ``Host $proxy_host``), so the public
    address has to be configured."""
    candidates = [settings.public_url or "", *settings.trusted_origins.split(",")]
    return frozenset(o for o in (origin_of(c) for c in candidates if c.strip()) if o)


def zone_label(zone: ZoneInfo, at: datetime | None = None) -> str:
    """How a page names the zone its times are in: '北京时间' for China Standard Time, else the
    IANA name with the UTC offset at ``at`` (now when not given), 'Europe/Berlin UTC+01:00'."""
    words = ZONE_WORDS.get(zone.key)
    if words:
        return words
    offset = (at or datetime.now(zone)).astimezone(zone).strftime("%z")
    return f"{zone.key} UTC{offset[:3]}:{offset[3:]}"


def local_time(at: datetime, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware time as people at the centre read it: '2026-12-12 09:00' in ``zone`` (a naive
    time is taken as UTC, as the database stores it; ``fmt``: another strftime format)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo("UTC"))
    return at.astimezone(zone).strftime(fmt)


def local_time_with_zone(at: datetime, zone: ZoneInfo) -> str:
    """'2026-12-12 09:00 北京时间', '2026-12-12 09:00 Europe/Berlin UTC+01:00'."""
    return f"{local_time(at, zone)} {zone_label(zone, at)}"
