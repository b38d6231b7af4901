"""JSON API of the blueprints."""

from __future__ import annotations

from fastapi import APIRouter, Query

from examengine.deps import DB, ReleasingRoute
from examengine.services import blueprints as svc
from examengine.services import parameters

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["blueprints"])


@router.get("/blueprints", summary="The blueprints (latest versions)")
def list_blueprints(db: DB) -> list[svc.BlueprintSummary]:
    return svc.list_blueprints(db)


@router.get("/blueprints/{code}", summary="One blueprint, with cut scores as theta and percent correct")
def get_blueprint(code: str, db: DB, version: int | None = None) -> svc.BlueprintView:
    return svc.show_blueprint(db, code, version)


@router.get("/bank/readiness", summary="Can the bank support the blueprint's adaptive exam on calibrated parameters? "
            "Per work domain: calibrated and provisional operational items, pretest items and their responses, "
            "the items needed (max length x weight / exposure cap) and the gap; ready and the reasons")
def bank_readiness(db: DB, blueprint: str = Query(..., min_length=1, description="蓝图编号，如 530046-L2")
                   ) -> parameters.Readiness:
    return parameters.bank_readiness(db, blueprint=blueprint)
