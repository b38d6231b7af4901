"""Staff sign-in and sign-out pages."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from examengine.deps import (
    STAFF_COOKIE,
    ReleasingRoute,
    client_address,
    current_staff,
    get_db,
    signin_limits,
    staff_token,
)
from examengine.rendering.env import render
from examengine.services import accounts

router = APIRouter(route_class=ReleasingRoute, include_in_schema=False)
HOME = {"admin": "/proctor", "proctor": "/proctor", "item_writer": "/writer/items", "reviewer": "/writer/items"}


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else ""


@router.get("/login")
def login_form(request: Request, next: str = "", member=Depends(current_staff)) -> Response:
    if member is not None:
        return RedirectResponse(_safe_next(next) or HOME[member.role.value], 303)
    return HTMLResponse(render("login.html", nav="", message="", next=_safe_next(next), username=""))


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form(""),
          db: Session = Depends(get_db)) -> Response:
    try:
        token = accounts.sign_in(db, username, password, address=client_address(request),
                                 limits=signin_limits(request))
    except accounts.TooManySignInsError as exc:
        return HTMLResponse(render("login.html", nav="", message=exc.message, next=_safe_next(next),
                                   username=username), status_code=429,
                            headers={"Retry-After": str(exc.retry_after)})
    except accounts.NotSignedInError as exc:
        return HTMLResponse(render("login.html", nav="", message=exc.message, next=_safe_next(next),
                                   username=username), status_code=401)
    member = accounts.resolve(db, token)
    resp = RedirectResponse(_safe_next(next) or HOME[member.role.value], 303)
    resp.set_cookie(STAFF_COOKIE, token, httponly=True, samesite="strict", max_age=accounts.SESSION_HOURS * 3600)
    return resp


@router.post("/logout")
def logout(request: Request, db: Session = Depends(get_db)) -> Response:
    accounts.sign_out(db, staff_token(request))
    resp = RedirectResponse("/login", 303)
    resp.delete_cookie(STAFF_COOKIE)
    return resp
