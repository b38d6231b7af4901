"""calibration_models: ORM models (see the issue that builds them)."""

from __future__ import annotations

from examengine.db.base import Base  # noqa: F401
