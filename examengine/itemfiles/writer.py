"""One entry point for every export format."""

from __future__ import annotations

from collections.abc import Sequence

from examengine.errors import ConflictError, ExamEngineError
from examengine.exam.items import ItemDraft
from examengine.itemfiles.bounds import illegal_char

EXPORT_FORMATS = ("qti3", "qti21", "xlsx", "csv", "json")


def export_bytes(drafts: Sequence[ItemDraft], fmt: str) -> bytes:
    """The drafts in ``fmt``. An item the format cannot hold (stored before imports were
    checked: a control character, a picture name that is no file name) is a ConflictError
    naming it, not a crash."""
    if fmt in ("qti3", "qti21", "xlsx"):
        for d in drafts:
            texts = (d.external_id, d.stem, d.explanation, d.author, d.source, d.enemy_group or "", *d.options,
                     *(i.name for i in d.images))
            if any(illegal_char(t) for t in texts):
                raise ConflictError(f"题目 {d.external_id} 含有{fmt}格式不允许的控制字符，无法导出；请先修改该题")
    try:
        return _export(drafts, fmt)
    except ValueError as exc:  # the QTI writer's own check (picture names, references)
        raise ConflictError(f"无法导出为 {fmt}：{exc}") from exc


def _export(drafts: Sequence[ItemDraft], fmt: str) -> bytes:
    if fmt in ("qti3", "qti21"):
        from examengine.itemfiles.qti import write_qti_package

        return write_qti_package(drafts, version="2.1" if fmt == "qti21" else "3.0", title="examengine 题库导出")
    if fmt == "xlsx":
        from examengine.itemfiles.tables import write_xlsx

        return write_xlsx(drafts)
    if fmt == "csv":
        from examengine.itemfiles.tables import write_csv

        return write_csv(drafts)
    if fmt == "json":
        from examengine.itemfiles.json_format import write_json

        return write_json(drafts, title="examengine 题库导出")
    raise ExamEngineError(f"不支持的导出格式：{fmt}（可用：qti3、qti21、xlsx、csv、json）")
