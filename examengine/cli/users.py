"""``examengine users ...``: staff accounts (the CLI itself runs as the machine's administrator)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from examengine.cli.common import handles_errors, out, session, settings
from examengine.config import local_time, zone_label
from examengine.errors import ExamEngineError

users_app = typer.Typer(help="工作人员账号：管理员、命题人、审题人、监考。", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


def _password(password: str | None, stdin: bool) -> str:
    """The password from --password, from standard input (--password-stdin), or typed twice at a
    terminal. Without a terminal (a script, a pipe, cron) there is no one to type it: say how
    to pass it instead of letting getpass warn and click abort."""
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if password:
        return password
    if not sys.stdin.isatty():
        raise ExamEngineError(
            "没有终端可以输入密码：请用 --password-stdin 从标准输入读取"
            "（例如 printf '%s\\n' \"$PASSWORD\" | examengine users create ... --password-stdin），"
            "或用 --password 直接给出。")
    return typer.prompt("密码", hide_input=True, confirmation_prompt=True)


@users_app.command("create")
@handles_errors
def create(
    username: Annotated[str, typer.Option(help="用户名")],
    role: Annotated[str, typer.Option(help="admin（管理员）、item_writer（命题人）、reviewer（审题人）或 proctor（监考）")],
    name: Annotated[str, typer.Option(help="显示名称")] = "",
    password: Annotated[str | None, typer.Option(help="密码（不给则在终端提示输入；脚本中请用 --password-stdin）")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码")] = False,
) -> None:
    """创建工作人员账号（密码以 argon2 散列保存；至少 12 个字符，不能是常见密码或用户名）。"""
    from examengine.services.accounts import Role, create_user

    try:
        r = Role(role)
    except ValueError:
        raise ExamEngineError(f"角色应为 admin、item_writer、reviewer 或 proctor，实际为“{role}”") from None
    with session() as db:
        member = create_user(db, username=username, password=_password(password, password_stdin), role=r,
                             display_name=name)
    out.print(f"已创建{member.role.label}账号 {member.username}。")


@users_app.command("password")
@handles_errors
def set_password(
    username: str,
    password: Annotated[str | None, typer.Option(help="新密码（不给则在终端提示输入；脚本中请用 --password-stdin）")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码")] = False,
) -> None:
    """重设密码（该账号在所有设备上退出登录；密码规则同 users create）。"""
    from examengine.services.accounts import set_password as set_pw

    with session() as db:
        set_pw(db, username, _password(password, password_stdin))
    out.print(f"已重设 {username} 的密码。")


@users_app.command("assign")
@handles_errors
def assign(username: str, exam: int) -> None:
    """把一场考试分配给监考账号。"""
    from examengine.services.accounts import assign_proctor
    from examengine.services.exams import get_exam

    with session() as db:
        get_exam(db, exam)
        assign_proctor(db, username, exam)
    out.print(f"监考 {username} 可以管理考试 {exam}。")


@users_app.command("unassign")
@handles_errors
def unassign(username: str, exam: int) -> None:
    """收回监考账号对一场考试的权限（立即生效）。"""
    from examengine.services.accounts import unassign_proctor

    with session() as db:
        unassign_proctor(db, username, exam)
    out.print(f"监考 {username} 不再能管理考试 {exam}。")


@users_app.command("disable")
@handles_errors
def disable(username: str) -> None:
    """停用账号：不能再登录，已登录的会话全部失效。"""
    from examengine.services.accounts import set_active

    with session() as db:
        revoked = set_active(db, username, False)
    out.print(f"已停用 {username}，注销了 {revoked} 个会话。")


@users_app.command("enable")
@handles_errors
def enable(username: str) -> None:
    """重新启用一个已停用的账号。"""
    from examengine.services.accounts import set_active

    with session() as db:
        set_active(db, username, True)
    out.print(f"已启用 {username}。")


@users_app.command("list")
@handles_errors
def list_() -> None:
    """列出账号。"""
    from examengine.services.accounts import list_users

    with session() as db:
        rows = list_users(db)
    t = Table(title="工作人员账号")
    for col in ("用户名", "名称", "角色", "启用"):
        t.add_column(col)
    for u in rows:
        t.add_row(u.username, u.display_name, u.role, "是" if u.active else "否")
    out.print(t, highlight=False)


def register_audit(app: typer.Typer) -> None:
    @app.command("audit")
    @handles_errors
    def audit_log(
        action: Annotated[str, typer.Option(help="操作类型前缀，如 item、exam、attempt.void")] = "",
        target: Annotated[str, typer.Option(help="对象，如 'exam 3'")] = "",
        limit: Annotated[int, typer.Option(help="条数")] = 50,
    ) -> None:
        """审计日志：谁在何时做了什么（修改前后）。"""
        from examengine.services import audit

        with session() as db:
            rows = audit.read(db, action=action, target=target, limit=limit)
        zone = settings().zone
        t = Table(title="审计日志（最新在前）")
        for col in (f"时间（{zone_label(zone)}）", "操作人", "操作", "对象", "之前", "之后"):
            t.add_column(col, overflow="fold")
        for e in rows:
            t.add_row(local_time(datetime.fromisoformat(e.at), zone), e.actor, e.action, e.target, str(e.before or ""), str(e.after or ""))
        out.print(t, highlight=False)
