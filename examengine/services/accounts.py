"""Staff accounts: argon2 password hashes, database-backed sessions, roles, proctor assignments."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from examengine.db.models import ProctorAssignment, StaffSession, User
from examengine.errors import ConflictError, ExamEngineError, NotFoundError
from examengine.services import audit

SESSION_HOURS = 12
_hasher = PasswordHasher()


class Role(str, Enum):
    ADMIN = "admin"
    ITEM_WRITER = "item_writer"
    PROCTOR = "proctor"

    @property
    def label(self) -> str:
        return {"admin": "管理员", "item_writer": "命题人", "proctor": "监考"}[self.value]


class NotSignedInError(ExamEngineError):
    """No valid staff session (401)."""


class ForbiddenError(ExamEngineError):
    """Signed in, but this role may not do that (403)."""


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    display_name: str
    role: Role

    @property
    def sees_keys(self) -> bool:
        """Keys and IRT parameters of items reach admins only (a proctor gets a printed key of
        an exam they run: :func:`require_keys`)."""
        return self.role is Role.ADMIN

    def can_run_exam(self, db: Session, exam_id: int) -> bool:
        if self.role is Role.ADMIN:
            return True
        if self.role is not Role.PROCTOR:
            return False
        return db.scalar(select(ProctorAssignment.id).where(
            ProctorAssignment.user_id == self.id, ProctorAssignment.exam_id == exam_id)) is not None


def require_exam(db: Session, member: Staff, exam_id: int) -> None:
    """The one access rule of an exam: an admin, or a proctor assigned to it. Every route that
    names an exam (in its path, query or form) calls this; the CLI runs as an admin."""
    if not member.can_run_exam(db, exam_id):
        raise ForbiddenError("你没有被分配到这场考试。")


def require_keys(db: Session, member: Staff, exam_id: int | None) -> None:
    """A printed key (answers and the score conversion table): an admin, or the proctor of the
    exam it is printed for."""
    if member.sees_keys:
        return
    if exam_id is None:
        raise ForbiddenError("参考答案只能由管理员打印，或由监考按所监考的考试打印（请选择考试）。")
    require_exam(db, member, exam_id)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(db: Session, *, username: str, password: str, role: Role, display_name: str = "") -> Staff:
    username = username.strip()
    if not username or len(username) > 64:
        raise ExamEngineError("用户名不能为空，且不超过 64 个字符")
    if len(password) < 8:
        raise ExamEngineError("密码至少 8 个字符")
    user = User(username=username, display_name=display_name.strip() or username, role=role.value,
                password_hash=_hasher.hash(password), active=True)
    db.add(user)
    audit.record(db, actor="cli", action="user.create", target=f"user {username}", after={"role": role.value})
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ConflictError(f"用户名 {username} 已存在") from None
    return Staff(user.id, user.username, user.display_name, role)


def set_password(db: Session, username: str, password: str) -> None:
    user = db.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError("用户", username)
    if len(password) < 8:
        raise ExamEngineError("密码至少 8 个字符")
    user.password_hash = _hasher.hash(password)
    audit.record(db, actor="cli", action="user.password", target=f"user {username}")
    db.execute(delete(StaffSession).where(StaffSession.user_id == user.id))  # sign out everywhere
    db.commit()


def sign_in(db: Session, username: str, password: str) -> str:
    """A new session token for a correct username and password."""
    user = db.scalars(select(User).where(User.username == username.strip())).first()
    try:
        ok = user is not None and user.active and _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise NotSignedInError("用户名或密码不正确。")
    token = "st_" + secrets.token_urlsafe(32)
    db.add(StaffSession(token_hash=_hash_token(token), user_id=user.id,
                        expires_at=datetime.now(UTC) + timedelta(hours=SESSION_HOURS)))
    db.commit()
    return token


def sign_out(db: Session, token: str) -> None:
    db.execute(delete(StaffSession).where(StaffSession.token_hash == _hash_token(token)))
    db.commit()


def resolve(db: Session, token: str) -> Staff | None:
    if not token or not token.startswith("st_"):
        return None
    row = db.scalars(select(StaffSession).where(StaffSession.token_hash == _hash_token(token))).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires < datetime.now(UTC) or not row.user.active:
        return None
    u = row.user
    return Staff(u.id, u.username, u.display_name, Role(u.role))


def assign_proctor(db: Session, username: str, exam_id: int) -> None:
    user = db.scalars(select(User).where(User.username == username)).first()
    if user is None or user.role != Role.PROCTOR.value:
        raise NotFoundError("监考账号", username)
    db.add(ProctorAssignment(user_id=user.id, exam_id=exam_id))
    audit.record(db, actor="cli", action="user.assign", target=f"user {username}", after={"exam": exam_id})
    try:
        db.commit()
    except IntegrityError:
        db.rollback()


@dataclass(frozen=True)
class UserView:
    username: str
    display_name: str
    role: str
    active: bool


def list_users(db: Session) -> list[UserView]:
    return [UserView(u.username, u.display_name, u.role, u.active) for u in db.scalars(select(User).order_by(User.id))]
