"""Item files: reading uploads (JSON, CSV, XLSX, QTI 2.1/3.0 packages) into ``ItemDraft``s
and writing exports. An adapter layer: no database here, no HTTP.

Every reader returns a ``ParsedUpload`` and never raises for bad content: each problem is
collected with its file, location (row, item id, package file) and field, so that one
upload reports everything wrong with it at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from examengine.errors import Problem
from examengine.exam.items import ItemDraft


@dataclass(frozen=True)
class ParsedUpload:
    file: str
    format: str  # json / csv / xlsx / qti21 / qti30
    items: tuple[ItemDraft, ...]
    problems: tuple[Problem, ...] = ()
    title: str = ""
    author: str = ""
    source: str = ""
    warnings: tuple[Problem, ...] = field(default_factory=tuple)


def detect_format(filename: str, data: bytes) -> str | None:
    """The upload's format from its name and first bytes."""
    name = filename.lower()
    if data[:2] == b"PK":  # a zip: XLSX or a QTI content package
        import io
        import zipfile

        from examengine.itemfiles.bounds import zip_directory_problem
        from examengine.itemfiles.qti import MAX_FILES  # local: qti imports this package

        if zip_directory_problem(data, MAX_FILES):
            return "qti" if name.endswith(".zip") else "xlsx"  # whose reader refuses it, saying why
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except zipfile.BadZipFile:
            return None
        if "imsmanifest.xml" in names:
            return "qti"
        if "[Content_Types].xml" in names:
            return "xlsx"
        return None
    if name.endswith(".json"):
        return "json"
    if name.endswith((".csv", ".txt")):
        return "csv"
    if name.endswith(".xlsx"):
        return "xlsx"
    if name.endswith(".zip"):
        return "qti"
    return None
