"""Settings, read once from the environment (prefix ``EXAMENGINE_``) and passed down.

Nothing here opens a database or a file: ``Settings()`` only reads variables.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
#: Times are stored in UTC and shown to people in China Standard Time.
DISPLAY_TIMEZONE = "Asia/Shanghai"


def _default_data_dir() -> Path:
    """The project root (holding ``blueprints/`` and ``itembank/``) of a source checkout,
    else the working directory."""
    root = PACKAGE_DIR.parent
    if (root / "blueprints" / "standards").is_dir():
        return root
    return Path.cwd()


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
