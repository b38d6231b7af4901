"""The ``examengine`` command line (Typer). It calls the same services as the API."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.tree import Tree

from examengine.cli.common import KIND_NAMES, handles_errors, out, print_json, session, settings
from examengine.errors import ExamEngineError

app = typer.Typer(
    help="examengine：1+X 职业技能等级证书自适应考试与题库引擎。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="数据库：迁移与版本。", no_args_is_help=True)
standards_app = typer.Typer(help="职业技能等级标准目录。", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(standards_app, name="standards")

# ------------------------------------------------------------------ init / db


@app.command()
@handles_errors
def init() -> None:
    """迁移数据库，载入标准目录、示例题库和蓝图（重复运行不会产生重复数据）。"""
    from examengine.services.setup import initialize

    from examengine.db.migrate import sqlite_path

    s = settings()
    report = initialize(s)
    c = report.catalog
    path = sqlite_path(s.database_url)
    if path is not None:  # say where: a relative default is read in the working directory
        out.print(f"数据库文件：{path.absolute()}", highlight=False)
    if report.revision_before != report.revision_after:
        out.print(f"数据库已迁移：{report.revision_before or '（空库）'} → {report.revision_after}")
    else:
        out.print(f"数据库已是最新版本：{report.revision_after}")
    if c.changed:
        parts = [f"{KIND_NAMES[k]} 新增 {c.created[k]}、更新 {c.updated[k]}" for k in c.created if c.created[k] or c.updated[k]]
        out.print("标准目录已载入：" + "；".join(parts))
    else:
        total = sum(c.unchanged.values())
        out.print(f"标准目录无变化（{total} 条记录已是最新）。")
    for r in report.item_sets:
        if r.created or r.new_versions or r.updated:
            out.print(f"示例题库 {r.filename}：新增 {r.created}、新版本 {r.new_versions}、更新 {r.updated}、无变化 {r.unchanged}",
                      highlight=False)
    if report.item_sets and not any(r.created or r.new_versions or r.updated for r in report.item_sets):
        out.print(f"示例题库无变化（{sum(r.total for r in report.item_sets)} 道题已是最新）。")
    if report.provisional_items:
        out.print(f"[yellow]注意：[/yellow]题库 {report.operational_items} 道正式使用题目中有 {report.provisional_items} 道是"
                  "暂定参数（由级别和难度评级推定，未经作答数据校准）。示例题库这样载入只为演示：基于暂定参数的成绩对工作人员"
                  "标为“暂定”，发布须确认。正式考试前请收集作答并校准，进度见 examengine bank readiness --blueprint 蓝图编号。",
                  highlight=False)
    changed_bps = [b for b in report.blueprints if b.action != "unchanged"]
    for b in changed_bps:
        out.print(f"蓝图 {b.code}：{'新增' if b.action == 'created' else '新版本'} v{b.version}")
    if report.blueprints and not changed_bps:
        out.print(f"蓝图无变化（{len(report.blueprints)} 份已是最新）。")
    stored = [e.code for e in report.exposure if e.action == "stored"]
    if stored:
        out.print(f"曝光控制参数（随示例题库标定）已保存：{'、'.join(stored)}。", highlight=False)
    stale = [e.code for e in report.exposure if e.action in ("stale", "absent")]
    if stale:
        out.print(f"[yellow]注意：[/yellow]{'、'.join(stale)} 的题库或蓝图与随附的曝光参数不一致，在线考试暂不做曝光控制；"
                  "请运行 examengine exposure calibrate 蓝图编号。", highlight=False)
    if report.demo is not None:
        d = report.demo
        out.print(f"演示考试（编号 {d.exam_id}）{'已创建' if d.created else '已存在'}；考生登录页 /exam，"
                  f"监考页 /proctor/exams/{d.exam_id}。可用准考证号和访问码：")
        for ticket, name, code in d.tickets:
            out.print(f"  准考证号 {ticket}  访问码 {code}  （{name}）", highlight=False)
    if report.admin_password:
        out.print(f"已创建管理员账号：用户名 admin，密码 {report.admin_password}（只显示这一次；"
                  "可用 examengine users password admin 重设）。工作人员登录页：/login", highlight=False)
    if c.stale:
        out.print(f"[yellow]注意：[/yellow]数据库中有 {len(c.stale)} 个代码不在目录文件中（保留未删）：{', '.join(c.stale[:10])}")
    if not report.changed:
        out.print("无变化。")


@db_app.command("upgrade")
@handles_errors
def db_upgrade(revision: Annotated[str, typer.Argument(help="目标版本")] = "head") -> None:
    """把数据库迁移到最新（或指定）版本。"""
    from examengine.db import migrate

    url = settings().database_url
    before = migrate.current_revision(url)
    migrate.upgrade(url, revision)
    after = migrate.current_revision(url)
    out.print(f"数据库版本：{before or '（空库）'} → {after}" if before != after else f"数据库已是最新版本：{after}")


@db_app.command("current")
@handles_errors
def db_current() -> None:
    """显示数据库当前的迁移版本与最新版本。"""
    from examengine.db import migrate

    url = settings().database_url
    out.print(f"当前版本：{migrate.current_revision(url) or '（空库）'}；最新版本：{migrate.head_revision(url)}")


@db_app.command("backup")
@handles_errors
def db_backup(dest: Annotated[Path, typer.Argument(help="备份文件（新文件）")]) -> None:
    """在线备份 SQLite 数据库（服务运行时也可用；PostgreSQL 请用 pg_dump）。"""
    from examengine.db.backup import backup_sqlite

    size = backup_sqlite(settings().database_url, dest)
    out.print(f"已备份到 {dest}（{size / 1e6:.1f} MB），完整性检查通过。", highlight=False)


# ------------------------------------------------------------------ standards


@standards_app.command("list")
@handles_errors
def standards_list(
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """列出标准及各级别的工作领域、工作任务、职业技能要求数量。"""
    from examengine.services.catalog import list_standards

    with session() as db:
        rows = list_standards(db)
    if fmt == "json":
        print_json([asdict(r) for r in rows])
        return
    table = Table(title="职业技能等级标准")
    for col in ("标准", "级别", "工作领域", "工作任务", "职业技能要求"):
        table.add_column(col, overflow="fold")
    for s in rows:
        for i, lv in enumerate(s.levels):
            table.add_row(f"{s.code} {s.name}" if i == 0 else "", f"{lv.name} {lv.code}", str(lv.counts.domains),
                          str(lv.counts.tasks), str(lv.counts.requirements))
    out.print(table)
    if not rows:
        out.print("尚未载入任何标准：请先运行 examengine init。")


@standards_app.command("show")
@handles_errors
def standards_show(
    code: Annotated[str, typer.Argument(help="标准代码（530046）或级别代码（530046-L2）")],
    fmt: Annotated[str, typer.Option("--format", help="tree 或 json")] = "tree",
) -> None:
    """以树形显示一个标准或一个级别的工作领域、工作任务与职业技能要求。"""
    from examengine.services.catalog import standard_tree

    with session() as db:
        tree = standard_tree(db, code)
    if fmt == "json":
        print_json(asdict(tree))
        return
    root = Tree(f"[bold]{tree.code} {tree.name}[/bold]（{tree.version}）")
    for lv in tree.levels:
        lnode = root.add(f"[bold]{lv.name}[/bold] {lv.code}")
        for d in lv.domains:
            dnode = lnode.add(f"{d.code} 工作领域：{d.name}")
            for t in d.tasks:
                tnode = dnode.add(f"{t.code} 工作任务：{t.name}")
                for r in t.requirements:
                    tnode.add(f"{r.code} {r.text}", highlight=False)
    out.print(root, highlight=False)
    c = tree.counts
    out.print(f"共 {c.levels} 个级别、{c.domains} 个工作领域、{c.tasks} 个工作任务、{c.requirements} 条职业技能要求。")
    if tree.corrections:
        out.print(f"对原文的更正 {len(tree.corrections)} 处（见 examengine standards corrections {tree.code}）。")


@standards_app.command("corrections")
@handles_errors
def standards_corrections(code: Annotated[str, typer.Argument(help="标准或级别代码")]) -> None:
    """列出目录对标准原文转换错误所做的更正（原文 → 更正）。"""
    from examengine.services.catalog import standard_tree

    with session() as db:
        tree = standard_tree(db, code)
    table = Table(title=f"{tree.code} {tree.name}：对原文的更正")
    for col in ("代码", "字段", "原文", "更正为", "说明"):
        table.add_column(col, overflow="fold")
    for c in tree.corrections:
        table.add_row(c.code, c.field, c.original, c.corrected, c.reason)
    out.print(table, highlight=False)


@standards_app.command("export")
@handles_errors
def standards_export(
    fmt: Annotated[str, typer.Option("--format", help="目前支持 json")] = "json",
) -> None:
    """把全部标准（标准 → 级别 → 工作领域 → 工作任务 → 职业技能要求）以 JSON 写到标准输出。"""
    from examengine.services.catalog import all_trees

    if fmt != "json":
        raise ExamEngineError(f"不支持的格式：{fmt}（可用：json）")
    with session() as db:
        trees = all_trees(db)
    print_json({"standards": [asdict(t) for t in trees]})


# ------------------------------------------------------------------ serve


@app.command()
@handles_errors
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址")] = None,
    port: Annotated[int | None, typer.Option(help="端口")] = None,
    workers: Annotated[int, typer.Option(help="工作进程数")] = 1,
    reload: Annotated[bool, typer.Option(help="开发用：代码变动时重启")] = False,
) -> None:
    """启动 Web 服务（API 文档在 /docs）。"""
    import uvicorn

    from examengine.db.migrate import ensure_current

    s = settings()
    ensure_current(s.database_url)  # a missing or read-only folder, an empty or newer database: one clear line
    host = host or s.host
    port = port or s.port
    out.print(f"examengine 正在 http://{host}:{port} 上运行 —— API 文档：http://{host}:{port}/docs")
    # X-Forwarded-For/-Proto are believed only from the configured proxies (EXAMENGINE_FORWARDED_ALLOW_IPS)
    proxies = s.forwarded_allow_ips.strip()
    uvicorn.run("examengine.app:create_app", factory=True, host=host, port=port, workers=workers, reload=reload,
                proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None)


def _register_optional() -> None:
    """Commands that live in their own modules register themselves here."""
    from examengine.cli import analysis as _analysis
    from examengine.cli import blueprint_sim as _blueprint_sim
    from examengine.cli import blueprints as _blueprints
    from examengine.cli import calibration as _calibration
    from examengine.cli import exams as _exams
    from examengine.cli import forms as _forms
    from examengine.cli import users as _users
    from examengine.cli import items as _items

    _items.register(app)
    _blueprints.register(app)
    _blueprint_sim.register(app)
    _exams.register(app)
    _forms.register(app)
    _calibration.register(app)
    _analysis.register(app)
    _users.register(app)
    _users.register_audit(app)
    try:
        from examengine.cli import simulate as _simulate
    except ImportError:  # pragma: no cover - module added by the psychometric core
        return
    _simulate.register(app)


_register_optional()


def main() -> None:
    app()
