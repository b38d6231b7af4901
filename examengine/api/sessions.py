"""Staff sign-in for API clients: a bearer token (``st_...``) for ``Authorization``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from examengine.deps import DB, ReleasingRoute, client_address, current_staff, signin_limits, staff_token
from examengine.services import accounts

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["staff sessions"])


class Credentials(BaseModel):
    username: str
    password: str


class StaffSessionOut(BaseModel):
    token: str
    username: str
    role: accounts.Role


class StaffSignedOut(BaseModel):
    signed_out: bool


class MeOut(BaseModel):
    username: str
    display_name: str
    role: accounts.Role


@router.post("/sessions", summary="Staff sign-in: returns a bearer token (public; 429 with Retry-After after "
             "too many failures)")
def sign_in(body: Credentials, request: Request, db: DB) -> StaffSessionOut:
    token = accounts.sign_in(db, body.username, body.password, address=client_address(request),
                             limits=signin_limits(request))
    member = accounts.resolve(db, token)
    return StaffSessionOut(token=token, username=member.username, role=member.role)


@router.delete("/sessions", summary="Sign out (the token stops working)")
def sign_out(request: Request, db: DB) -> StaffSignedOut:
    accounts.sign_out(db, staff_token(request))
    return StaffSignedOut(signed_out=True)


@router.get("/me", summary="Who is signed in (null when nobody)")
def me(member: accounts.Staff | None = Depends(current_staff)) -> MeOut | None:
    if member is None:
        return None
    return MeOut(username=member.username, display_name=member.display_name, role=member.role)
