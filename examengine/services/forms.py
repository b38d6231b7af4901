"""Paper forms: assemble N parallel forms of a blueprint (MILP), store them, print the booklet,
the answer sheets and the key (PDF), and score paper answers onto the online scale.

Printing freezes the item versions a form uses. Paper results are stored beside the exam's
online attempts, with the same result (band, pass/fail, 0-100, domain feedback).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from examengine.db.forms_models import (
    Form,
    FormAssembly,
    FormItem,
    FormUse,
    PaperResult,
)
from examengine.db.models import (
    BlueprintVersion,
    Candidate,
    Exam,
    ItemImage,
    ItemVersion,
    Level,
    Standard,
)
from examengine.errors import (
    ConflictError,
    DataFileError,
    ExamEngineError,
    NotFoundError,
    Problem,
)
from examengine.exam.agreement import AgreementStudy, OnlineStop, simulate_agreement
from examengine.exam.blueprint import DECISIONS, Blueprint, Decision
from examengine.exam.forms import (
    FORM_CODES,
    MAX_KEY_RUN,
    SINGLE_KEY_LETTERS,
    SINGLE_KEY_SHARE,
    SINGLE_KEY_SLACK,
    TRUE_KEY_SHARE,
    TRUE_KEY_SLACK,
    TYPE_HEADINGS,
    KeyBalance,
    conversion_table,
    form_spec,
    key_balance,
    key_text,
    print_order,
    read_answer,
    score_answer,
    score_paper_form,
    seat_order,
    split_answer_string,
)
from examengine.exam.items import LETTERS
from examengine.exam.sheet_codes import new_sheet_key, sheet_code
from examengine.exam.sheet_layout import SheetLayoutError, sheet_layout
from examengine.exam.policy import CatPolicy, blueprint_policy
from examengine.exam.pool import ItemPool
from examengine.exam.study import calibrate_blueprint_exposure
from examengine.irt.assembly import (
    AssembledForms,
    AssemblySpec,
    InfeasibleAssemblyError,
    assemble_forms,
)
from examengine.irt.params import ItemParams
from examengine.itemfiles.bounds import clean_filename
from examengine.itemfiles.pictures import served_type
from examengine.itemfiles.tables import read_paper_answers
from examengine.services import audit
from examengine.services.parameters import versions_provisional_mark
from examengine.services.blueprints import (
    band_exposure_problem,
    get_blueprint_version,
    load_pool,
    resolve_cuts,
)
from examengine.services.exams import as_utc
from examengine.services.mapping import stored_exposure, stored_result

# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class FormItemView:
    position: int
    item_id: str
    version_id: int
    version: int
    type: str
    domain: str
    stem: str
    options: list[str]
    key: list[str]
    a: float | None
    b: float | None
    c: float | None
    key_text: str = ""  # the key as printed: "BD", and 对/错 for 判断

    def without_keys(self) -> FormItemView:
        """The item as a proctor sees it on screen: no key, no IRT parameters."""
        return replace(self, key=[], key_text="", a=None, b=None, c=None)


@dataclass(frozen=True)
class FormView:
    id: int
    code: str
    assembly_id: int
    blueprint: str
    blueprint_version: int
    length: int
    information: dict[str, float]
    printed: bool
    items: list[FormItemView] = field(default_factory=list)
    # the keys' balance, recounted from the stored items (None: listed without its items, or no keys shown)
    key_balance: KeyBalance | None = None
    key_balance_text: str = ""

    def without_keys(self) -> FormView:
        return replace(self, items=[it.without_keys() for it in self.items], key_balance=None, key_balance_text="")


@dataclass(frozen=True)
class InformationPoint:
    """A θ at which the forms' test information is reported, named for people: a cut score
    ('θ = −1（初级分数线）') or the scale's centre ('θ = 0（量表中点）')."""

    theta: float
    key: str  # its key in FormView.information
    label: str


def information_points(thetas, cuts: list[float], cut_names: list[str]) -> list[InformationPoint]:
    named = {round(float(t), 9): f"{name}分数线" for t, name in zip(cuts, cut_names)}
    points = []
    for t in thetas:
        text = f"{float(t):g}".replace("-", "\u2212")
        what = named.get(round(float(t), 9)) or ("量表中点" if float(t) == 0 else "")
        points.append(InformationPoint(float(t), f"{float(t):g}", f"θ = {text}（{what}）" if what else f"θ = {text}"))
    return points


@dataclass(frozen=True)
class AssemblyView:
    id: int
    blueprint: str
    blueprint_version: int
    n_forms: int
    length: int
    max_overlap: int
    seed: int
    cuts: list[float]
    report: dict
    forms: list[FormView]
    information_points: list[InformationPoint] = field(default_factory=list)  # the report's θs, labelled


def _form_view(db: Session, form: Form, *, items: bool = True) -> FormView:
    bv = db.get(BlueprintVersion, form.blueprint_version_id)
    rows = []
    if items:
        versions = {v.id: v for v in db.scalars(select(ItemVersion).where(
            ItemVersion.id.in_([fi.item_version_id for fi in form.items])))}
        domains = _domains(db, bv, list(versions))
        for fi in form.items:
            v = versions[fi.item_version_id]
            key = [LETTERS[k] for k in sorted(v.key)]
            rows.append(FormItemView(fi.position, fi.external_id, v.id, v.number, v.type, domains.get(v.id, ""), v.stem,
                                     list(v.options), key, v.irt_a, v.irt_b, v.irt_c, key_text(v.type, key)))
    balance = key_balance([r.position for r in rows], [r.type for r in rows], ["".join(r.key) for r in rows]) \
        if items else None
    return FormView(form.id, form.code, form.assembly_id, bv.code, bv.version, len(form.items),
                    dict(form.information), form.printed_at is not None, rows, balance,
                    balance.text() if balance else "")


def _domains(db: Session, bv: BlueprintVersion, version_ids: list[int]) -> dict[int, str]:
    """Each version's domain as the blueprint's pool sees it (or "lower-level")."""
    _, bp = get_blueprint_version(db, bv.code, bv.version)
    bpool = load_pool(db, bp, include_versions=frozenset(version_ids))
    return {vid: bpool.domains[p] for p, vid in enumerate(bpool.version_ids)}


# ---------------------------------------------------------------- assembly


def _recently_used(db: Session, bv: BlueprintVersion, administrations: int) -> tuple[set[int], int]:
    """Item ids (external) on forms used in the last ``administrations`` exams of this
    blueprint code, and how many exams that was."""
    if administrations <= 0:
        return set(), 0
    exam_ids = list(db.scalars(
        select(FormUse.exam_id).join(Form, Form.id == FormUse.form_id)
        .join(BlueprintVersion, BlueprintVersion.id == Form.blueprint_version_id)
        .where(BlueprintVersion.code == bv.code).group_by(FormUse.exam_id)
        .order_by(FormUse.exam_id.desc()).limit(administrations)))
    if not exam_ids:
        return set(), 0
    used = set(db.scalars(select(FormItem.external_id).join(FormUse, FormUse.form_id == FormItem.form_id)
                          .where(FormUse.exam_id.in_(exam_ids))))
    return used, len(exam_ids)


KEY_BALANCE_OFF = "也可关闭答案均衡：命令行 --no-balance-keys，接口 balance_keys=false"


def _solve(bp: Blueprint, pool: ItemPool, spec: AssemblySpec) -> AssembledForms:
    """Solve an assembly; an infeasible request is a DataFileError naming each shortfall (one
    of the key balance says how to do without it)."""
    try:
        return assemble_forms(pool.params, spec)
    except InfeasibleAssemblyError as exc:
        raise DataFileError([Problem(bp.id, s.constraint, s.area or s.group,
                                     s.message + (f"（{KEY_BALANCE_OFF}）" if s.constraint == "proportion" else ""))
                             for s in exc.shortfalls]) from None


def key_balance_rule() -> dict:
    """The key balance an assembly kept (stored in its report, shown with its forms)."""
    return {"single_letters": SINGLE_KEY_LETTERS, "single_share": list(SINGLE_KEY_SHARE), "single_slack": SINGLE_KEY_SLACK,
            "true_share": list(TRUE_KEY_SHARE), "true_slack": TRUE_KEY_SLACK, "max_run": MAX_KEY_RUN,
            "text": f"每套单选题答案 {'、'.join(SINGLE_KEY_LETTERS)} 各占 {SINGLE_KEY_SHARE[0]:.0%}–{SINGLE_KEY_SHARE[1]:.0%}"
                    f"（±{SINGLE_KEY_SLACK:g} 道），判断题“对”占 {TRUE_KEY_SHARE[0]:.0%}–{TRUE_KEY_SHARE[1]:.0%}"
                    f"（±{TRUE_KEY_SLACK:g} 道）；同一题型内同一答案尽量不连续超过 {MAX_KEY_RUN} 题"}


# The bounds of an assembly request (the API's request model reads them from here): closed
# ranges, except tolerance and time_limit, which must also be above their lower bound.
ASSEMBLY_BOUNDS: dict[str, tuple[float, float]] = {
    "forms": (1, len(FORM_CODES)), "length": (1, 200), "overlap": (0, 200), "avoid_recent": (0, 100),
    "seed": (0, 2**31 - 1), "time_limit": (0.0, 300.0), "tolerance": (0.0, 1.0),
}
ASSEMBLY_LABELS = {"forms": "试卷套数", "length": "每套题数", "overlap": "重复题数", "avoid_recent": "避开最近考试场数",
                   "seed": "随机种子", "time_limit": "求解时限（秒）", "tolerance": "平行带宽"}
MAX_BLANK_SHEETS = 500


def _check_assembly(**values: float) -> None:
    problems = []
    for name, value in values.items():
        lo, hi = ASSEMBLY_BOUNDS[name]
        open_low = name in ("time_limit", "tolerance")
        ok = (lo < value if open_low else lo <= value) and (value < hi if name == "tolerance" else value <= hi)
        if not ok:  # NaN fails too
            low, high = ("(", ")" if name == "tolerance" else "]") if open_low else ("[", "]")
            problems.append(Problem("", "", name, f"{ASSEMBLY_LABELS[name]}应在 {low}{lo:g}, {hi:g}{high} 之间，实际为 {value}"))
    if problems:
        raise DataFileError(problems)


def assemble(db: Session, *, blueprint: str, n_forms: int, length: int, actor: str, max_overlap: int = 0,
             avoid_recent: int = 0, seed: int = 1, parallel_tolerance: float = 0.03, time_limit: float = 30.0,
             rel_gap: float = 1e-2, balance_keys: bool = True) -> AssemblyView:
    """Assemble ``n_forms`` parallel forms of ``length`` operational items and store them.
    ``balance_keys``: each form's keys are balanced (``exam.forms.key_proportions``: 单选 keys
    spread over A-D, 判断 not all 对) and printed without long runs of one key. An infeasible
    request is a DataFileError naming each constraint and how many items are missing; nothing
    is stored then."""
    _check_assembly(forms=n_forms, length=length, overlap=max_overlap, avoid_recent=avoid_recent, seed=seed,
                    time_limit=time_limit, tolerance=parallel_tolerance)
    row, bp = get_blueprint_version(db, blueprint)
    bpool = load_pool(db, bp)
    pool = bpool.pool
    cuts = [c.theta for c in resolve_cuts(bp, pool.params)]
    used, n_exams = _recently_used(db, row, avoid_recent)
    eligible = np.array([i not in used for i in pool.item_ids], bool)
    spec = form_spec(bp, pool, cuts, n_forms=n_forms, length=length, max_overlap=max_overlap, eligible=eligible,
                     excluded_reason=f"最近 {n_exams} 场考试的纸笔试卷用过的题目", parallel_tolerance=parallel_tolerance,
                     seed=seed, rel_gap=rel_gap, time_limit=time_limit, keys=bpool.keys if balance_keys else None)
    result = _solve(bp, pool, spec)
    thetas = [f"{t:g}" for t in result.report_thetas]
    report = {
        "status": result.status, "gap": result.gap, "objective": result.objective, "dual_bound": result.dual_bound,
        "seconds": round(result.seconds, 3), "thetas": list(result.report_thetas),
        "information": {FORM_CODES[f]: dict(zip(thetas, map(float, result.information[f]))) for f in range(n_forms)},
        "difference": dict(zip(thetas, map(float, result.difference))),
        "max_difference": result.max_difference, "parallel_tolerance": parallel_tolerance,
        "shared": {f"{FORM_CODES[f]}-{FORM_CODES[g]}": n for (f, g), n in result.shared.items()},
        "excluded_recent": int((~eligible).sum()), "variables": result.n_variables,
        "constraints": result.n_constraints,
        "key_balance": key_balance_rule() if balance_keys else None,
    }
    asm = FormAssembly(blueprint_version_id=row.id, n_forms=n_forms, length=length, max_overlap=max_overlap,
                       seed=seed, cuts=cuts, report=report, created_by=actor,
                       options={"avoid_recent": avoid_recent, "parallel_tolerance": parallel_tolerance,
                                "time_limit": time_limit, "rel_gap": rel_gap, "balance_keys": balance_keys})
    for f, positions in enumerate(result.forms):
        form = Form(blueprint_version_id=row.id, code=FORM_CODES[f],
                    information=report["information"][FORM_CODES[f]])
        for k, p in enumerate(print_order(positions, pool, bpool.keys if balance_keys else None), start=1):
            form.items.append(FormItem(position=k, item_version_id=bpool.version_ids[p],
                                       external_id=pool.item_ids[p]))
        asm.forms.append(form)
    db.add(asm)
    db.flush()
    audit.record(db, actor=actor, action="form.assemble", target=f"assembly {asm.id}",
                 after={"blueprint": f"{row.code} v{row.version}", "forms": {f.code: f.id for f in asm.forms},
                        "length": length, "max_overlap": max_overlap, "seed": seed, "avoid_recent": avoid_recent,
                        "parallel_tolerance": parallel_tolerance, "status": result.status,
                        "max_difference": result.max_difference})
    db.commit()
    return assembly_view(db, asm.id)


def assembly_view(db: Session, assembly_id: int, *, keys: bool = True) -> AssemblyView:
    """An assembly and its forms; ``keys=False`` (proctors) leaves out keys and IRT parameters."""
    asm = db.get(FormAssembly, assembly_id)
    if asm is None:
        raise NotFoundError("组卷", str(assembly_id))
    bv = db.get(BlueprintVersion, asm.blueprint_version_id)
    _, bp = get_blueprint_version(db, bv.code, bv.version)
    points = information_points(asm.report.get("thetas", []), list(asm.cuts), [c.level_name for c in bp.cuts])
    return AssemblyView(asm.id, bv.code, bv.version, asm.n_forms, asm.length, asm.max_overlap, asm.seed,
                        list(asm.cuts), dict(asm.report),
                        [v if keys else v.without_keys() for v in (_form_view(db, f) for f in asm.forms)], points)


def get_form(db: Session, form_id: int) -> Form:
    form = db.get(Form, form_id)
    if form is None:
        raise NotFoundError("试卷", str(form_id))
    return form


def form_view(db: Session, form_id: int, *, keys: bool = True) -> FormView:
    """A form with its items; ``keys=False`` (proctors) leaves out keys and IRT parameters."""
    view = _form_view(db, get_form(db, form_id))
    return view if keys else view.without_keys()


def list_forms(db: Session) -> list[FormView]:
    return [_form_view(db, f, items=False) for f in db.scalars(select(Form).order_by(Form.id)
                                                               .options(selectinload(Form.items)))]


def list_assemblies(db: Session, *, keys: bool = True) -> list[AssemblyView]:
    return [assembly_view(db, a, keys=keys) for a in db.scalars(select(FormAssembly.id).order_by(FormAssembly.id.desc()))]


# ---------------------------------------------------------------- printing


@dataclass(frozen=True)
class Printed:
    form_id: int
    booklet: bytes | None
    sheets: bytes | None
    key: bytes | None
    n_sheets: int
    blueprint: str = ""
    form_code: str = ""
    exam_id: int | None = None

    def file_name(self, document: str) -> str:
        """The download's name, saying which form and what it is: '530046-L1-试卷A-试题册.pdf',
        '530046-L1-试卷A-考试3-答题卡.pdf' (``document``: booklet, sheets or key)."""
        exam = f"-考试{self.exam_id}" if self.exam_id is not None else ""
        return f"{self.blueprint}-试卷{self.form_code}{exam}-{DOCUMENT_NAMES[document]}.pdf"

    def ascii_file_name(self, document: str) -> str:
        """:meth:`file_name` in ASCII, for clients that do not read RFC 5987's ``filename*``."""
        exam = f"-exam-{self.exam_id}" if self.exam_id is not None else ""
        name = f"{self.blueprint}-form-{self.form_code}{exam}-{document}.pdf"
        return re.sub(r"[^A-Za-z0-9._-]", "_", name)


#: The printed documents, as their pages and downloads name them.
DOCUMENT_NAMES = {"booklet": "试题册", "sheets": "答题卡", "key": "答案与换算表"}


def qr_payload(exam_id: int | None, candidate: Candidate | None, form: Form, key: str | None = None) -> str:
    """What an answer sheet's QR code holds: exam, candidate (id and 准考证号) and form, signed
    with the exam's sheet key (``exam.sheet_codes``)."""
    return sheet_code(exam_id=exam_id, candidate_id=candidate.id if candidate else None,
                      ticket=candidate.ticket if candidate else "", form_id=form.id, form_code=form.code, key=key)


def roster_sheets(db: Session, exam: Exam, form: Form) -> tuple[list[Candidate], list[Candidate]]:
    """The candidates a roster print of ``form``'s answer sheets is for, and those of them the
    print assigns to ``form``, by room and seat. When the exam's candidates sit several forms
    (``services.form_assignments``), the sheets are those of the candidates assigned to ``form``
    only: a sheet of form B is never printed for a candidate on form A; a candidate not yet
    assigned, or a form nobody sits, is a ConflictError. Otherwise (no candidate assigned, or
    every assigned one on ``form``: a one-form exam) every candidate gets a sheet, as before
    assignments existed, and the print assigns the unassigned ones to ``form``, so that a later
    print of another form for the same roster is refused instead of giving them two sheets."""
    candidates = sorted(exam.candidates, key=lambda c: seat_order(c.room, c.seat, c.ticket))
    elsewhere = [c for c in candidates if c.form_id is not None and c.form_id != form.id]
    if not elsewhere:
        return candidates, [c for c in candidates if c.form_id is None]
    unassigned = [c.ticket for c in candidates if c.form_id is None]
    assign_hint = f"examengine forms assign {exam.id} --assembly {form.assembly_id} --by seat|room|column，或考试页面的“分配试卷”"
    if unassigned:
        more = f" 等 {len(unassigned)} 名" if len(unassigned) > 10 else ""
        raise ConflictError(f"考试 {exam.id} 的考生已分配到不同的试卷，其中 {len(unassigned)} 名尚未分配（"
                            f"{'、'.join(unassigned[:10])}{more}）：请先为他们分配试卷（{assign_hint}；加 "
                            f"--only-unassigned 或在页面勾选“只为尚未分配试卷的考生分配”，已分配的考生不变），再打印答题卡")
    mine = [c for c in candidates if c.form_id == form.id]
    if not mine:
        codes = sorted({db.get(Form, c.form_id).code for c in elsewhere})
        raise ConflictError(f"考试 {exam.id} 没有考生分配到试卷 {form.code}（编号 {form.id}）：考生分配的是试卷 "
                            f"{'、'.join(codes)}。要改用这套试卷，请重新分配（{assign_hint}）")
    return mine, []


def _pictures(db: Session, version_ids: list[int]) -> dict[int, dict[str, dict]]:
    """The stored pictures of item versions, by version and name, as the booklet prints them in
    place of ``[图片:name]``: the bytes, their sniffed type (never the one stored with them) and
    the description. Only pictures a print can place (PNG, JPEG, GIF, WebP)."""
    out: dict[int, dict[str, dict]] = {}
    for img in db.scalars(select(ItemImage).where(ItemImage.version_id.in_(version_ids))):
        media_type = served_type(img.data)
        if media_type.startswith("image/"):
            out.setdefault(img.version_id, {})[img.name] = {"media_type": media_type, "data": img.data,
                                                           "alt": img.alt or ""}
    return out


def print_context(db: Session, form_id: int, *, exam_id: int | None = None, blank_sheets: int = 0,
                  roster: bool = True) -> dict:
    """Everything the print templates need (a plain dict of view data). ``roster`` (with
    ``exam_id``): a sheet for each candidate of the exam that sits this form (:func:`roster_sheets`)."""
    if not 0 <= blank_sheets <= MAX_BLANK_SHEETS:
        raise DataFileError([Problem("", "", "blank", f"空白答题卡应为 0–{MAX_BLANK_SHEETS} 张，实际为 {blank_sheets}")])
    form = get_form(db, form_id)
    view = _form_view(db, form)
    bv = db.get(BlueprintVersion, form.blueprint_version_id)
    _, bp = get_blueprint_version(db, bv.code, bv.version)
    level = db.scalars(select(Level).where(Level.code == bv.code)).one()
    standard = db.get(Standard, level.standard_id)
    asm = db.get(FormAssembly, form.assembly_id)
    cuts = list(asm.cuts)
    pictures = _pictures(db, [it.version_id for it in view.items])
    sections = []
    for it in view.items:
        if not sections or sections[-1]["type"] != it.type:
            sections.append({"type": it.type, "heading": TYPE_HEADINGS.get(it.type, it.type), "items": []})
        sections[-1]["items"].append(asdict(it) | {"pictures": pictures.get(it.version_id, {})})
    candidates: list[Candidate | None] = []
    exam = None
    if exam_id is not None:
        exam = db.get(Exam, exam_id)
        if exam is None:
            raise NotFoundError("考试", str(exam_id))
        if exam.blueprint_version.code != bv.code:
            raise ConflictError(f"考试 {exam_id} 的蓝图是 {exam.blueprint_version.code}，试卷是 {bv.code}")
        if exam.sheet_key is None:  # written with the print (print_form commits)
            exam.sheet_key = new_sheet_key()
        if roster:
            candidates.extend(roster_sheets(db, exam, form)[0])
    candidates.extend([None] * blank_sheets)
    params = ItemParams.three_pl([i.a for i in view.items], [i.b for i in view.items], [i.c for i in view.items])
    policy = blueprint_policy(bp, tuple(cuts))
    table = conversion_table(params, bp, cuts, grid=policy.grid, prior=policy.prior)
    sheets = [{"name": c.name if c else "", "ticket": c.ticket if c else "", "room": c.room if c else "",
               "qr": qr_payload(exam_id, c, form, exam.sheet_key if exam else None)} for c in candidates]
    return {
        "form": asdict(view) | {"title": f"{bv.code} 试卷 {form.code}"},
        "standard": {"code": standard.code, "name": standard.name},
        "level": {"code": level.code, "name": level.name},
        "exam": {"id": exam.id, "name": exam.name, "time": exam.time_limit_minutes} if exam else None,
        "time_limit": exam.time_limit_minutes if exam else bp.time_limit_minutes,
        "sections": sections, "sheets": sheets,
        "cuts": [{"name": n, "theta": t} for n, t in zip(("初级", "中级", "高级"), cuts)],
        "pass_score": bp.pass_score, "registered_level": bp.registered_level_name,
        "table": [asdict(r) for r in table],
    }


def print_form(db: Session, form_id: int, *, actor: str, booklet: bool = True, sheets: bool = True,
               key: bool = True, exam_id: int | None = None, blank_sheets: int = 0,
               font_family: str | None = None) -> Printed:
    """Render the chosen documents; the first print freezes the form's item versions, and a
    roster print records the form's use in that exam. Sheets for a roster are printed for the
    candidates who sit this form (:func:`roster_sheets`); a roster print of an exam nobody's
    form is assigned in assigns them all to this form (audited as ``exam.form_assign``, rule
    "print", by ``actor``). Every print is audited (who, which documents, for which exam, how
    many sheets)."""
    from examengine.rendering.pdf import render_booklet, render_key, render_sheets

    ctx = print_context(db, form_id, exam_id=exam_id, blank_sheets=blank_sheets if sheets else 0, roster=sheets)
    if sheets:
        try:  # the answer sheet's grid has a fixed capacity (exam.sheet_layout)
            sheet_layout([len(it["options"]) for it in ctx["form"]["items"]])
        except SheetLayoutError as e:
            raise ConflictError(f"答题卡无法打印：{e}") from None
    if sheets and not ctx["sheets"]:
        ctx["sheets"] = [{"name": "", "ticket": "", "room": "", "qr": qr_payload(None, None, get_form(db, form_id))}]
    out = Printed(form_id,
                  render_booklet(ctx, font_family=font_family) if booklet else None,
                  render_sheets(ctx, font_family=font_family) if sheets else None,
                  render_key(ctx, font_family=font_family) if key else None,
                  len(ctx["sheets"]) if sheets else 0)
    form = get_form(db, form_id)
    out = replace(out, blueprint=db.get(BlueprintVersion, form.blueprint_version_id).code, form_code=form.code,
                  exam_id=exam_id)
    for fi in form.items:
        db.get(ItemVersion, fi.item_version_id).frozen = True
    first = form.printed_at is None
    if first:
        form.printed_at = datetime.now(UTC)
    if exam_id is not None:
        _use(db, form, exam_id)
        if sheets:
            _, assigned = roster_sheets(db, db.get(Exam, exam_id), form)
            for c in assigned:
                c.form_id = form.id
            if assigned:
                audit.record(db, actor=actor, action="exam.form_assign", target=f"exam {exam_id}", before=None,
                             after={"rule": "print", "forms": {form.code: form.id}, "counts": {form.code: len(assigned)},
                                    "changed": [[c.ticket, None, form.code] for c in assigned]})
    audit.record(db, actor=actor, action="form.print", target=f"form {form.id}",
                 after={"form": form.code, "assembly": form.assembly_id, "exam": exam_id,
                        "documents": [d for d, on in (("booklet", booklet), ("sheets", sheets), ("key", key)) if on],
                        "sheets": out.n_sheets, "blank_sheets": blank_sheets if sheets else 0,
                        "first_print": first})
    db.commit()
    return out


def _use(db: Session, form: Form, exam_id: int) -> None:
    if db.scalars(select(FormUse).where(FormUse.form_id == form.id, FormUse.exam_id == exam_id)).first() is None:
        db.add(FormUse(form_id=form.id, exam_id=exam_id))


# ---------------------------------------------------------------- scoring paper answers

@dataclass(frozen=True)
class PaperRow:
    ticket: str
    name: str
    form: str
    raw_score: int
    n_items: int
    omitted: int
    theta: float
    se: float
    band_name: str
    passed: bool
    score: float
    # scored on provisional parameters (exam.items.is_provisional); None: scored before the mark existed
    provisional: bool | None = None
    # below: filled by ``paper_results`` (a scoring report leaves them at their defaults)
    room: str = ""
    form_id: int | None = None
    registered_level: str = ""
    flags: list[str] = field(default_factory=list)  # what the reading or its review noted (Chinese)
    corrected: int | None = None  # positions corrected on review; None: no review recorded (typed answers)
    scored_by: str = ""
    scored_at: str = ""  # ISO 8601, UTC
    source: str = ""  # as stored: "答案.csv sha256:<16 hex>", or the scan's
    source_file: str = ""  # the source without its digest
    # the earlier result this one replaced (or, in a dry run, would replace) when it came from
    # another source, in Chinese (e.g. a scanned sheet replacing a typed CSV row); "" otherwise.
    # The earlier result itself is kept in the stored result's ``history``: nothing is lost.
    replaced: str = ""
    replaced_at: str = ""  # when that earlier result was scored (ISO 8601, UTC; shown in the centre's zone)


@dataclass(frozen=True)
class PaperScoreReport:
    exam_id: int
    added: int
    updated: int
    rows: list[PaperRow]


def exam_forms(db: Session, exam: Exam, assembly_id: int | None = None) -> dict[str, Form]:
    """The forms a paper answer may name by code: those of ``assembly_id``, else those used
    in (printed for) the exam or assigned to its candidates."""
    if assembly_id is not None:
        asm = db.get(FormAssembly, assembly_id)
        if asm is None:
            raise NotFoundError("组卷", str(assembly_id))
        forms = list(asm.forms)
    else:
        forms = list(db.scalars(select(Form).join(FormUse, FormUse.form_id == Form.id)
                                .where(FormUse.exam_id == exam.id).order_by(Form.id)))
        assigned = {c.form_id for c in exam.candidates if c.form_id} - {f.id for f in forms}
        forms += list(db.scalars(select(Form).where(Form.id.in_(assigned)).order_by(Form.id))) if assigned else []
    by_code: dict[str, Form] = {}
    for f in forms:
        if f.code in by_code:
            raise ConflictError(f"考试 {exam.id} 用过两套代码同为 {f.code} 的试卷（{by_code[f.code].id} 和 {f.id}），"
                                "请指定组卷编号")
        by_code[f.code] = f
    if not by_code:
        raise ConflictError(f"考试 {exam.id} 还没有打印过纸笔试卷：请先按名单打印，或指定组卷编号")
    return by_code


@dataclass(frozen=True)
class PaperScoring:
    """What scoring paper answers of an exam needs, gathered once: the blueprint, the cuts its
    forms were assembled (and their conversion tables printed) with, the online policy (grid,
    prior), and each form's items with keys and domains, by form code."""

    exam: Exam
    blueprint: Blueprint
    cuts: list[float]
    policy: CatPolicy
    forms: dict[str, Form]
    views: dict[str, FormView]

    def form_by_id(self, form_id: int) -> Form | None:
        return next((f for f in self.forms.values() if f.id == form_id), None)


def paper_scoring(db: Session, exam: Exam, forms: dict[str, Form]) -> PaperScoring:
    bv = exam.blueprint_version
    _, bp = get_blueprint_version(db, bv.code, bv.version)
    cuts = _exam_cuts(db, forms)
    return PaperScoring(exam, bp, cuts, blueprint_policy(bp, tuple(cuts)), forms,
                        {code: _form_view(db, f) for code, f in forms.items()})


def record_paper_result(db: Session, scoring: PaperScoring, candidate: Candidate, form: Form,
                        answers: list[list[str]], *, actor: str, source: str,
                        extra: dict | None = None, write: bool = True) -> tuple[PaperRow, bool]:
    """Score one candidate's answers (per position: the letters chosen, [] omitted) on ``form``
    exactly as online (EAP with the online prior, band, pass/fail, 0-100, domain feedback) and
    store them as the candidate's paper result (replacing an earlier one), with ``extra`` in
    the result (e.g. ``source_kind``). The caller commits. Returns the row and whether it is
    new; ``write`` False (a dry run) only scores."""
    view = scoring.views[form.code]
    scores = [score_answer(a, [LETTERS.index(k) for k in it.key]) for a, it in zip(answers, view.items, strict=True)]
    params = ItemParams.three_pl([i.a for i in view.items], [i.b for i in view.items], [i.c for i in view.items])
    res = score_paper_form(scoring.blueprint, scoring.cuts, params, scores, grid=scoring.policy.grid,
                           prior=scoring.policy.prior, domains=[it.domain for it in view.items])
    mark = versions_provisional_mark(db, [fi.item_version_id for fi in form.items])
    omitted = sum(1 for a in answers if not a)
    result = asdict(res) | {"n_scored": len(scores), "mode": "paper", "form": form.code, "form_id": form.id,
                            "raw_score": int(sum(scores)), "omitted": omitted,
                            "provisional": mark.provisional, "n_provisional": mark.n_provisional} | (extra or {})
    now = datetime.now(UTC)
    out = PaperRow(candidate.ticket, candidate.name, form.code, int(sum(scores)), len(scores), omitted, res.theta,
                   res.se, res.band_name, res.passed, res.score, mark.provisional, room=candidate.room,
                   form_id=form.id, registered_level=scoring.blueprint.registered_level_name,
                   flags=list(result.get("flags", [])), corrected=result.get("corrected"), scored_by=actor,
                   scored_at=now.isoformat(timespec="seconds"), source=source,
                   source_file=_source_file(source))
    row = db.scalars(select(PaperResult).where(PaperResult.exam_id == scoring.exam.id,
                                               PaperResult.candidate_id == candidate.id)).first()
    added = row is None
    if row is not None and (row.source or "") != source:
        earlier = _history_entry(row)
        out = replace(out, replaced=_replaced_note(earlier), replaced_at=earlier["scored_at"])
    if not write:
        return out, added
    if row is None:
        row = PaperResult(exam_id=scoring.exam.id, candidate_id=candidate.id)
        db.add(row)
    else:  # the earlier result is kept, whole, in the new one's history
        result["history"] = [*(row.result or {}).get("history", []), _history_entry(row)]
    row.form_id, row.answers, row.scores, row.raw_score = form.id, answers, scores, int(sum(scores))
    row.theta, row.se, row.result = res.theta, res.se, result
    row.source = source
    row.scored_by, row.scored_at = actor, now
    _use(db, form, scoring.exam.id)
    return out, added


def _history_entry(row: PaperResult) -> dict:
    """A stored paper result as its successor keeps it (``result["history"]``)."""
    earlier = {k: v for k, v in (row.result or {}).items() if k != "history"}
    return {"source": row.source or "", "scored_by": row.scored_by or "",
            "scored_at": as_utc(row.scored_at).isoformat(timespec="seconds") if row.scored_at else "",
            "form_id": row.form_id, "answers": row.answers, "scores": row.scores, "raw_score": row.raw_score,
            "theta": row.theta, "se": row.se, "result": earlier}


def replaced_summary(rows: list[PaperRow]) -> str:
    """One sentence for a report whose results replaced earlier ones of another source ("" if none)."""
    tickets = [r.ticket for r in rows if r.replaced]
    if not tickets:
        return ""
    return f" 其中 {len(tickets)} 名替换了另一来源的先前成绩（{'、'.join(tickets)}），先前成绩保留在记录中。"


def _replaced_note(entry: dict) -> str:
    """What a result says of the earlier one it replaced (its time goes beside it, as
    ``PaperRow.replaced_at``, for the shells to show in the centre's zone)."""
    return (f"替换了此前的成绩（来源 {_source_file(entry['source']) or '不明'}，评分人 {entry['scored_by'] or '不明'}，"
            f"答对 {entry['raw_score']}，θ {entry['theta']:.2f}）")


def score_paper(db: Session, exam_id: int, filename: str, data: bytes, *, actor: str,
                assembly_id: int | None = None) -> PaperScoreReport:
    """Score an upload of paper answers (CSV/XLSX: 准考证号, 试卷 (A/B), then one column per item
    or one 答案 column "A,BD,对,..."; read by ``itemfiles.tables.read_paper_answers``). Every bad
    row is reported and nothing is written unless all rows are good; a row on another form than
    the one its candidate is assigned (``services.form_assignments``) is bad. A candidate scored
    again is updated."""
    # stored in each result's source, followed by " sha256:" and 16 hex digits
    filename = clean_filename(filename, PaperResult.__table__.c.source.type.length - 24)
    exam = db.get(Exam, exam_id)
    if exam is None:
        raise NotFoundError("考试", str(exam_id))
    forms = exam_forms(db, exam, assembly_id)
    rows = read_paper_answers(filename, data)
    candidates = {c.ticket: c for c in exam.candidates}
    scoring = paper_scoring(db, exam, forms)
    parsed = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for r in rows:
        loc, ticket, code = r.location, r.ticket, r.form
        cand = candidates.get(ticket)
        if cand is None:
            problems.append(Problem(filename, loc, "准考证号", f"准考证号“{ticket}”不在考试 {exam.id} 的名单中"))
            continue
        if ticket in seen:
            problems.append(Problem(filename, loc, "准考证号", f"准考证号 {ticket} 与第 {seen[ticket]} 行重复"))
            continue
        seen[ticket] = r.row
        if code not in forms:
            problems.append(Problem(filename, loc, "试卷", f"试卷代码“{code}”不是本场考试的试卷（应为 {'、'.join(forms)}）"))
            continue
        if cand.form_id is not None and cand.form_id != forms[code].id:
            assigned = db.get(Form, cand.form_id)
            which = f"试卷 {assigned.code}" if assigned.code != code else f"另一套试卷 {code}（编号 {assigned.id}）"
            problems.append(Problem(filename, loc, "试卷", f"准考证号 {ticket} 分配的是{which}，"
                                                         f"本行填写的是试卷 {code}（编号 {forms[code].id}）"))
            continue
        view = scoring.views[code]
        if r.answers is not None:
            texts = split_answer_string(r.answers)
            if len(texts) != view.length:
                problems.append(Problem(filename, loc, "答案", f"答案有 {len(texts)} 个，试卷 {code} 有 {view.length} 题"))
                continue
        else:
            texts = r.item_texts(view.length)
        answers, bad = [], False
        for it, text in zip(view.items, texts):
            letters, why = read_answer(text, it.type, len(it.options))
            if letters is None:
                problems.append(Problem(filename, loc, f"第 {it.position} 题", why))
                bad = True
            answers.append(letters or [])
        if not bad:
            parsed.append((cand, forms[code], answers))
    if problems:
        raise DataFileError(problems)
    added = updated = 0
    out = []
    source = f"{filename} sha256:{hashlib.sha256(data).hexdigest()[:16]}"
    for cand, form, answers in parsed:
        row, new = record_paper_result(db, scoring, cand, form, answers, actor=actor, source=source,
                                       extra={"source_kind": "csv"})
        added, updated = added + new, updated + (not new)
        out.append(row)
    audit.record(db, actor=actor, action="paper.score", target=f"exam {exam.id}",
                 after={"file": filename, "sha256": hashlib.sha256(data).hexdigest(), "added": added,
                        "updated": updated, "forms": sorted({r.form for r in out}), "assembly": assembly_id,
                        "replaced_other_source": sorted(r.ticket for r in out if r.replaced)})
    db.commit()
    return PaperScoreReport(exam.id, added, updated, out)


def _exam_cuts(db: Session, forms: dict[str, Form]) -> list[float]:
    """The cuts the forms were assembled (and their conversion tables printed) with."""
    cuts = {tuple(db.get(FormAssembly, f.assembly_id).cuts) for f in forms.values()}
    return list(sorted(cuts)[0])


def _corrected(value) -> int | None:
    """How many positions a review corrected, as the result records it (a count, or the list or
    mapping of corrected positions); None when no review is recorded."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple | dict):
        return len(value)
    return None


def _source_file(source: str) -> str:
    return re.sub(r"\s+sha256:[0-9a-f]+$", "", source or "")


def paper_results(db: Session, exam_id: int) -> list[PaperRow]:
    """The exam's paper results by 准考证号: the score as the candidate's online result reads
    (band, pass/fail, 0-100, 暂定), what reading and review noted (``flags``, ``corrected``),
    who scored it, when, and from which file."""
    rows = db.execute(select(PaperResult, Candidate, Form).join(Candidate, Candidate.id == PaperResult.candidate_id)
                      .join(Form, Form.id == PaperResult.form_id).where(PaperResult.exam_id == exam_id)
                      .order_by(Candidate.ticket)).all()
    out = []
    for p, c, f in rows:
        res = stored_result(p.result)
        extra = p.result or {}
        out.append(PaperRow(c.ticket, c.name, f.code, p.raw_score, len(p.scores), sum(1 for a in p.answers if not a),
                            p.theta, p.se, res.band_name, res.passed, res.score, res.provisional,
                            room=c.room or "", form_id=f.id, registered_level=res.registered_level,
                            flags=[str(x) for x in extra.get("flags") or []], corrected=_corrected(extra.get("corrected")),
                            scored_by=p.scored_by, scored_at=as_utc(p.scored_at).isoformat(timespec="seconds"),
                            source=p.source or "", source_file=_source_file(p.source),
                            **_last_replaced(p)))
    return out


def _last_replaced(p: PaperResult) -> dict[str, str]:
    """``replaced`` and ``replaced_at`` for the latest earlier result of another source that
    ``p`` replaced (none: empty)."""
    for entry in reversed((p.result or {}).get("history") or []):
        if entry.get("source", "") != (p.source or ""):
            return {"replaced": _replaced_note(entry), "replaced_at": entry.get("scored_at", "")}
    return {}


@dataclass(frozen=True)
class RosterEntry:
    ticket: str
    name: str
    room: str


@dataclass(frozen=True)
class PaperResultsView:
    """An exam's paper results and the roster candidates without one."""

    exam_id: int
    exam_name: str
    rows: list[PaperRow]
    without_result: list[RosterEntry]
    roster: int  # candidates on the roster
    flagged: int  # results with flags, or replacing an earlier result of another source
    provisional: int  # results scored on provisional parameters


def paper_results_view(db: Session, exam_id: int) -> PaperResultsView:
    exam = db.get(Exam, exam_id)
    if exam is None:
        raise NotFoundError("考试", str(exam_id))
    rows = paper_results(db, exam_id)
    have = {r.ticket for r in rows}
    missing = [RosterEntry(c.ticket, c.name, c.room or "") for c in sorted(exam.candidates, key=lambda c: c.ticket)
               if c.ticket not in have]
    return PaperResultsView(exam.id, exam.name, rows, missing, len(exam.candidates),
                            sum(1 for r in rows if r.flags or r.replaced), sum(1 for r in rows if r.provisional))


# ---------------------------------------------------------------- paper against online


class ExposureSource(Enum):
    """Which Sympson-Hetter parameters the online attempts of an agreement study use."""

    AUTO = "auto"  # the version's stored parameters, else calibrated for this run (as `examengine simulate`)
    STORED = "stored"  # exactly what online uses: the stored parameters, or none when not calibrated
    NONE = "none"  # no exposure control


def agreement_study(db: Session, *, blueprint: str, n_simulees: int, seed: int, length: int | None = None,
                    exposure: ExposureSource = ExposureSource.AUTO, online_stop: OnlineStop = OnlineStop.BLUEPRINT,
                    calibration_simulees: int = 600, decide: str | None = None,
                    progress: Callable[[str, int, int], None] | None = None) -> AgreementStudy:
    """Do paper forms and the online exam agree on a candidate's band? Two parallel forms of
    ``length`` items (default: the blueprint's maximum length) are assembled from the
    operational pool exactly as ``assemble`` does (not stored), and N simulees take both forms
    and an online attempt (``examengine.exam.agreement``). ``decide`` ("pass_fail" or "band")
    runs the online policy as if the blueprint decided that (a what-if: the stored exposure
    parameters, calibrated for the blueprint's own policy, are then not used). Writes nothing."""
    if n_simulees < 2:
        raise ExamEngineError("模拟考生至少 2 名")
    if decide is not None and decide not in DECISIONS:
        raise ExamEngineError(f"判定对象应为 {' 或 '.join(DECISIONS)}，实际为 {decide!r}")
    row, bp = get_blueprint_version(db, blueprint)
    what_if = decide is not None and decide != bp.decide
    if what_if:
        bp = dataclasses.replace(bp, decide=Decision(decide))
    bpool = load_pool(db, bp)
    pool = bpool.pool
    cuts = [c.theta for c in resolve_cuts(bp, pool.params)]
    length = bp.max_length if length is None else length
    if length < 1:
        raise ExamEngineError("每套试卷至少 1 题")
    unmet = band_exposure_problem(bp, len(pool)) if what_if and exposure is ExposureSource.AUTO else None
    if unmet:
        raise ExamEngineError(f"{unmet}（蓝图 exposure.max_rate）。假设分析可加 --exposure none 不控制曝光")
    result = _solve(bp, pool, form_spec(bp, pool, cuts, n_forms=2, length=length, seed=seed, keys=bpool.keys))
    params, label = None, "none"
    if exposure is not ExposureSource.NONE:
        params = None if what_if else stored_exposure(row, pool)
        # no parameters: online runs without, too (a what-if has none of its own)
        label = "stored" if params is not None else ("none" if what_if else "not calibrated")
        if params is None and exposure is ExposureSource.AUTO:
            params = calibrate_blueprint_exposure(bp, pool, tuple(cuts), seed=seed, n_simulees=calibration_simulees,
                                                  progress=progress)
            label = "calibrated for this run"
    return simulate_agreement(bp, pool, cuts, result.forms, n_simulees=n_simulees, seed=seed, exposure=params,
                              exposure_label=label, online_stop=online_stop, progress=progress)
