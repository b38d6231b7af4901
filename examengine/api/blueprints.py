"""JSON API of the blueprints."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from examengine.deps import ReleasingRoute, get_db
from examengine.services import blueprints as svc

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["blueprints"])


@router.get("/blueprints", summary="The blueprints (latest versions)")
def list_blueprints(db: Session = Depends(get_db)) -> list[dict]:
    return [asdict(b) for b in svc.list_blueprints(db)]


@router.get("/blueprints/{code}", summary="One blueprint, with cut scores as theta and percent correct")
def get_blueprint(code: str, version: int | None = None, db: Session = Depends(get_db)) -> dict:
    return asdict(svc.show_blueprint(db, code, version))
