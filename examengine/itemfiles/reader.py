"""One entry point for every upload format."""

from __future__ import annotations

from dataclasses import replace

from examengine.errors import Problem
from examengine.itemfiles import ParsedUpload, detect_format
from examengine.itemfiles.bounds import clean_filename
from examengine.itemfiles.pictures import check_pictures


def parse_upload(filename: str, data: bytes, *, default_requirements: tuple[str, ...] = ()) -> ParsedUpload:
    """Parse an upload by its format (JSON, CSV, XLSX or a QTI 2.1/3.0 package). Items that carry
    no requirement code get ``default_requirements`` (``--requirement``). The file's name is
    cleaned (``clean_filename``) before it names anything. Every picture is checked by its bytes
    (``pictures.check_pictures``): its type is the sniffed one."""
    filename = clean_filename(filename) or "upload"
    parsed = _parse(filename, data, default_requirements)
    items, problems = check_pictures(filename, parsed.items)
    return replace(parsed, items=items, problems=parsed.problems + tuple(problems))


def _parse(filename: str, data: bytes, default_requirements: tuple[str, ...]) -> ParsedUpload:
    fmt = detect_format(filename, data)
    if fmt == "json":
        from examengine.itemfiles.json_format import read_json

        return read_json(data, filename, default_requirements=default_requirements)
    if fmt == "csv":
        from examengine.itemfiles.tables import read_csv

        return read_csv(data, filename, default_requirements=default_requirements)
    if fmt == "xlsx":
        from examengine.itemfiles.tables import read_xlsx

        return read_xlsx(data, filename, default_requirements=default_requirements)
    if fmt == "qti":
        from examengine.itemfiles.qti import read_qti_package

        return read_qti_package(data, filename, default_requirements=default_requirements)
    return ParsedUpload(filename, "unknown", (), (Problem(
        filename, "", "", "无法识别的文件格式：支持 .xlsx、.csv、.json 和 QTI 2.1/3.0 内容包（含 imsmanifest.xml 的 .zip）"),))
