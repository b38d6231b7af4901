"""JSON API of the blueprints."""

from __future__ import annotations

from fastapi import APIRouter

from examengine.deps import DB, ReleasingRoute
from examengine.services import blueprints as svc

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["blueprints"])


@router.get("/blueprints", summary="The blueprints (latest versions)")
def list_blueprints(db: DB) -> list[svc.BlueprintSummary]:
    return svc.list_blueprints(db)


@router.get("/blueprints/{code}", summary="One blueprint, with cut scores as theta and percent correct")
def get_blueprint(code: str, db: DB, version: int | None = None) -> svc.BlueprintView:
    return svc.show_blueprint(db, code, version)
