"""Pictures carry a description (issue 25): a QTI <img alt> is kept through import, storage and
export and shown to the candidate; JSON carries it as images[].alt; a picture without one is a
warning of the upload report; the candidate page shows it (tests/attempts/test_images.py)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from examengine.db.models import ItemImage as ItemImageRow
from examengine.itemfiles.json_format import read_json, write_json
from examengine.itemfiles.qti import read_qti_package, write_qti_package
from examengine.services.items import confirm_upload, stage_upload
from tests.itemfiles.test_qti import CODES, FIXTURES, zip_dir


def test_a_qti_alt_text_survives_import_storage_and_export_and_json(db):
    package = zip_dir(FIXTURES / "tao21")
    single = read_qti_package(package, "tao.zip", default_requirements=CODES).items[0]
    assert [i.alt for i in single.images] == ["漏斗图"]
    # stored with the picture
    staged = stage_upload(db, filename="tao.zip", data=package, actor="writer", default_requirements=CODES)
    assert not any(w.field.startswith("图片") for w in staged.report.warnings)  # described: no warning
    confirm_upload(db, staged.item_set_id, actor="writer")
    assert db.scalars(select(ItemImageRow.alt).where(ItemImageRow.name == "chart.png")).all() == ["漏斗图"]
    # exported as the <img alt>, and read back
    for version in ("2.1", "3.0"):
        out = write_qti_package([single], version=version)
        back = read_qti_package(out, "back.zip").items[0]
        assert [i.alt for i in back.images] == ["漏斗图"]
    # JSON: images[].alt
    (back,) = read_json(write_json([single]), "items.json").items
    assert [i.alt for i in back.images] == ["漏斗图"]
    # a picture without a description is exported with its file name (as before) and reads back as none
    bare = replace(single, images=tuple(replace(i, alt="") for i in single.images))
    assert [i.alt for i in read_qti_package(write_qti_package([bare], version="2.1"), "b.zip").items[0].images] == [""]


def test_a_picture_without_a_description_is_a_warning_of_the_upload(db):
    package = zip_dir(FIXTURES / "tao21")


    staged = stage_upload(db, filename="tao.zip", data=_rezip(package), actor="writer", default_requirements=CODES)
    warned = [w for w in staged.report.warnings if w.field == "图片 chart.png"]
    assert len(warned) == 1 and "文字说明" in warned[0].message


def _rezip(data: bytes) -> bytes:
    """A zip's members with alt="漏斗图" emptied (the members are deflated: edit them unpacked)."""
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in src.namelist():
            body = src.read(name)
            zf.writestr(name, body.replace('alt="漏斗图"'.encode(), b'alt=""'))
    return out.getvalue()
