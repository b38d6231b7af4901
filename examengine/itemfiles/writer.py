"""One entry point for every export format."""

from __future__ import annotations

from collections.abc import Sequence

from examengine.errors import ExamEngineError
from examengine.exam.items import ItemDraft

EXPORT_FORMATS = ("qti3", "qti21", "xlsx", "csv", "json")


def export_bytes(drafts: Sequence[ItemDraft], fmt: str) -> bytes:
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
