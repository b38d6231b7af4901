"""Staff accounts: argon2 password hashes, database-backed sessions, roles, proctor assignments.

Sign-in bounds (issue 18): failures are audit rows (``staff.signin_failed``, actor = the client
address, target = ``user NAME``); a user with ``SignInLimits.per_user`` failures since their last
sign-in within the window, or an address with ``per_address`` failures, is refused with
:class:`TooManySignInsError` (429, Retry-After) until the oldest counted failure leaves the
window. Refused attempts are audited (``staff.signin_throttled``) but do not extend the back-off.
Unknown and disabled users cost one argon2 verification like everyone else (no enumeration by
timing). Passwords follow :func:`password_problems`."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from examengine.db.models import AuditEvent, ProctorAssignment, StaffSession, User
from examengine.errors import ConflictError, ExamEngineError, NotFoundError, TooManyAttemptsError
from examengine.services import audit

SESSION_HOURS = 12
_hasher = PasswordHasher()


def clock() -> datetime:
    """Now, in UTC (tests set the clock by replacing this function)."""
    return datetime.now(UTC)


class Role(str, Enum):
    ADMIN = "admin"
    ITEM_WRITER = "item_writer"
    REVIEWER = "reviewer"
    PROCTOR = "proctor"

    @property
    def label(self) -> str:
        return {"admin": "管理员", "item_writer": "命题人", "reviewer": "审题人", "proctor": "监考"}[self.value]


class NotSignedInError(ExamEngineError):
    """No valid staff session (401)."""


class ForbiddenError(ExamEngineError):
    """Signed in, but this role may not do that (403)."""


class TooManySignInsError(TooManyAttemptsError):
    """Too many failed sign-ins for this user or address: try again in ``retry_after`` seconds (429)."""

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(f"登录失败次数过多，已暂停登录。请 {minutes} 分钟后再试；忘记密码请联系管理员重设。", retry_after)


@dataclass(frozen=True)
class SignInLimits:
    """Failed sign-ins allowed per user and per client address within ``window``."""

    per_user: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


# ---------------------------------------------------------------- password policy

MIN_PASSWORD_LENGTH = 12
#: Common passwords (lower case) long enough to pass the length rule, and patterns of them.
COMMON_PASSWORDS = frozenset("""
123456789012 1234567890123 12345678901234 123456789000 123123123123 123412341234 111111111111
000000000000 112233445566 121212121212 123321123321 147258369147 987654321098 098765432109
password1234 password12345 password123456 passw0rd1234 p@ssw0rd1234 p@ssword1234 password2024
password2025 password2026 passwordpassword 1qaz2wsx3edc 1q2w3e4r5t6y 1q2w3e4r5t6y7u qwertyuiopas
qwertyuiop12 qwerty123456 qwertyqwerty asdfghjkl123 zxcvbnm12345 qazwsxedcrfv abcdefghijkl
abc123456789 abcd12345678 a1b2c3d4e5f6 iloveyou1234 letmein12345 welcome12345 welcome123456
administrator admin1234567 admin123456789 adminadmin123 administrator1 rootroot1234 changeme1234
examengine123 examengine1234 examengine2026 woaini123456 woaini1314520 5201314520131 aaaaaaaaaaaa
""".split())


def password_problems(password: str, username: str = "") -> list[str]:
    """What is wrong with a staff password (empty when it is acceptable): at least 12
    characters, not only blanks, not the username, not a common password, at least 5 different
    characters (refuses ``aaaaaaaaaaaa`` and ``121212121212``)."""
    problems = []
    if not password.strip():
        problems.append("密码不能全是空白")
    elif len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符（实际 {len(password)} 个）")
    norm = password.strip().lower()
    if username and norm in (username.strip().lower(), username.strip().lower() * 2):
        problems.append("密码不能与用户名相同")
    if norm in COMMON_PASSWORDS:
        problems.append("密码过于常见，请换一个")
    elif password.strip() and len(set(norm)) < 5:
        problems.append("密码至少包含 5 个不同的字符")
    return problems


class WeakPasswordError(ExamEngineError):
    """A password that breaks the policy (400), naming every rule it breaks."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("密码不符合要求：" + "；".join(problems) + "。")
        self.problems = problems


def check_password(password: str, username: str) -> None:
    problems = password_problems(password, username)
    if problems:
        raise WeakPasswordError(problems)


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

    @property
    def reads_bank(self) -> bool:
        """The item bank's pages (/writer) are for admins, item writers and reviewers; a proctor's
        pages link to them only for an admin."""
        return self.role is not Role.PROCTOR

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
    check_password(password, username)
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
    check_password(password, username)
    user.password_hash = _hasher.hash(password)
    audit.record(db, actor="cli", action="user.password", target=f"user {username}")
    db.execute(delete(StaffSession).where(StaffSession.user_id == user.id))  # sign out everywhere
    db.commit()


SIGNIN = "staff.signin"
SIGNIN_FAILED = "staff.signin_failed"
SIGNIN_THROTTLED = "staff.signin_throttled"
_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    """A hash to verify against when the user is unknown, so that path costs what a real
    verification costs (made on first use: hashing at import would slow every CLI start)."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(_hasher.hash(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _retry_after(db: Session, where, limit: int, since: datetime, now: datetime, window: timedelta) -> int | None:
    """Seconds until fewer than ``limit`` failures matching ``where`` remain in the window
    (None when there are fewer already)."""
    times = list(db.scalars(select(AuditEvent.at).where(AuditEvent.action == SIGNIN_FAILED, AuditEvent.at > since,
                                                           *where).order_by(AuditEvent.at.desc()).limit(limit)))
    if len(times) < limit:
        return None
    oldest = times[limit - 1] if times[limit - 1].tzinfo else times[limit - 1].replace(tzinfo=UTC)
    return max(1, int((oldest + window - now).total_seconds()) + 1)


def throttle(db: Session, username: str, address: str, limits: SignInLimits, now: datetime) -> int | None:
    """Seconds this user or address must wait before trying again, or None."""
    target = f"user {username}"
    since = now - limits.window
    last_ok = db.scalar(select(func.max(AuditEvent.at)).where(AuditEvent.action == SIGNIN,
                                                               AuditEvent.target == target))
    if last_ok is not None:
        last_ok = last_ok if last_ok.tzinfo else last_ok.replace(tzinfo=UTC)
    waits = [_retry_after(db, [AuditEvent.target == target], limits.per_user, max(since, last_ok or since), now,
                          limits.window)]
    if address:
        waits.append(_retry_after(db, [AuditEvent.actor == address], limits.per_address, since, now, limits.window))
    waits = [w for w in waits if w is not None]
    return max(waits) if waits else None


def sign_in(db: Session, username: str, password: str, *, address: str = "",
            limits: SignInLimits = SignInLimits()) -> str:
    """A new session token for a correct username and password. Every attempt is audited;
    too many failures for the user or the address raise :class:`TooManySignInsError`."""
    now = clock()
    name = username.strip()[:64].replace("\x00", "")  # no NUL reaches the database (PostgreSQL refuses it)
    address = address[:100]
    target = f"user {name}"
    wait = throttle(db, name, address, limits, now)
    if wait is not None:
        audit.record(db, actor=address or "?", action=SIGNIN_THROTTLED, target=target,
                     after={"address": address, "retry_after": wait}, at=now)
        db.commit()
        raise TooManySignInsError(wait)
    user = db.scalars(select(User).where(User.username == name)).first() if name == username.strip() else None
    # the hasher runs whether or not the user exists or is active: the answer takes as long
    ok = _verify(user.password_hash if user is not None else _dummy_hash(), password)
    if not (ok and user is not None and user.active):
        audit.record(db, actor=address or "?", action=SIGNIN_FAILED, target=target,
                     after={"address": address, "reason": "unknown" if user is None else
                            ("disabled" if not user.active else "password")}, at=now)
        db.commit()
        raise NotSignedInError("用户名或密码不正确。")
    token = "st_" + secrets.token_urlsafe(32)
    db.add(StaffSession(token_hash=_hash_token(token), user_id=user.id,
                        expires_at=now + timedelta(hours=SESSION_HOURS)))
    audit.record(db, actor=user.username, action=SIGNIN, target=target, after={"address": address}, at=now)
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


def _get_user(db: Session, username: str) -> User:
    user = db.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError("用户", username)
    return user


def set_active(db: Session, username: str, active: bool, *, actor: str = "cli") -> int:
    """Disable (or enable again) an account; disabling revokes all its sessions. Returns the
    number of sessions revoked."""
    user = _get_user(db, username)
    before = user.active
    user.active = active
    revoked = 0
    if not active:
        revoked = db.execute(delete(StaffSession).where(StaffSession.user_id == user.id)).rowcount or 0
    audit.record(db, actor=actor, action="user.disable" if not active else "user.enable", target=f"user {username}",
                 before={"active": before}, after={"active": active, "sessions_revoked": revoked})
    db.commit()
    return revoked


def unassign_proctor(db: Session, username: str, exam_id: int, *, actor: str = "cli") -> None:
    """Take an exam away from a proctor (their open pages stop working at the next request)."""
    user = _get_user(db, username)
    row = db.scalars(select(ProctorAssignment).where(ProctorAssignment.user_id == user.id,
                                                     ProctorAssignment.exam_id == exam_id)).first()
    if row is None:
        raise NotFoundError("监考分配", f"{username} → 考试 {exam_id}")
    db.delete(row)
    audit.record(db, actor=actor, action="user.unassign", target=f"user {username}", before={"exam": exam_id})
    db.commit()


@dataclass(frozen=True)
class UserView:
    username: str
    display_name: str
    role: str
    active: bool


def list_users(db: Session) -> list[UserView]:
    return [UserView(u.username, u.display_name, u.role, u.active) for u in db.scalars(select(User).order_by(User.id))]
