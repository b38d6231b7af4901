"""The audit log, for admins."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from examengine.deps import ReleasingRoute, get_db
from examengine.services import audit

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["audit"])


@router.get("/audit", summary="The audit log, newest first (admins)")
def read(action: str = "", target: str = "", limit: int = Query(200, ge=1, le=5000),
         db: Session = Depends(get_db)) -> list[dict]:
    return [asdict(e) for e in audit.read(db, action=action, target=target, limit=limit)]
