"""JSON API of the standards catalog."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from examengine.deps import ReleasingRoute, get_db
from examengine.services import catalog

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["catalog"])


@router.get("/standards", summary="List the standards with their levels and counts")
def list_standards(db: Session = Depends(get_db)) -> list[dict]:
    return [asdict(s) for s in catalog.list_standards(db)]


@router.get("/standards/{code}", summary="The whole tree of a standard (560003) or of one level (560003-L2)")
def get_standard(code: str, db: Session = Depends(get_db)) -> dict:
    return asdict(catalog.standard_tree(db, code))


@router.get("/requirements/{code}", summary="One skill requirement with its task, domain and level")
def get_requirement(code: str, db: Session = Depends(get_db)) -> dict:
    return asdict(catalog.get_requirement(db, code))
