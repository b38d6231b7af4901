"""JSON API of the standards catalog."""

from __future__ import annotations

from fastapi import APIRouter

from examengine.deps import DB, ReleasingRoute
from examengine.services import catalog

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["catalog"])


@router.get("/standards", summary="List the standards with their levels and counts")
def list_standards(db: DB) -> list[catalog.StandardSummary]:
    return catalog.list_standards(db)


@router.get("/standards/{code}", summary="The whole tree of a standard (560003) or of one level (560003-L2)")
def get_standard(code: str, db: DB) -> catalog.StandardTree:
    return catalog.standard_tree(db, code)


@router.get("/requirements/{code}", summary="One skill requirement with its task, domain and level")
def get_requirement(code: str, db: DB) -> catalog.RequirementInfo:
    return catalog.get_requirement(db, code)
