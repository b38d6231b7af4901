"""Pages: paper forms for proctors."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/proctor/forms", include_in_schema=False)
