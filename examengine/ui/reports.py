"""Pages: calibration and item reports."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/reports", include_in_schema=False)
