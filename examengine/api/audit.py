"""The audit log, for admins."""

from __future__ import annotations

from fastapi import APIRouter, Query

from examengine.deps import DB, ReleasingRoute
from examengine.services import audit

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["audit"])


@router.get("/audit", summary="The audit log, newest first (admins)")
def read(db: DB, action: str = "", target: str = "", limit: int = Query(200, ge=1, le=5000)) -> list[audit.AuditEntry]:
    return audit.read(db, action=action, target=target, limit=limit)
