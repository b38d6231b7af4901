"""The report pages: a calibration run, an item (ICC with observed proportions by ability
group, information, classical statistics), a blueprint's pool information with the cut
scores, and the statistics on the item writer's item page. Numbers on the pages are read
back from the SVG marks and tables and checked against independent computations."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from examengine.app import create_app
from examengine.db.calibration_models import CalibrationEstimate
from examengine.db.models import Attempt, AttemptItem, Item, ItemVersion
from examengine.services.calibration import item_statistics
from tests.conftest import staff_client

SVG = "{http://www.w3.org/2000/svg}"


def svg(html: str, css_id: str) -> ET.Element:
    m = re.search(rf'<svg [^>]*id="{css_id}".*?</svg>', html, re.S)
    assert m, f"no chart #{css_id}"
    return ET.fromstring(m.group(0))


def marks(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if cls in g.get("class", "").split()]


def cell_text(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_report_pages_send_anonymous_visitors_to_the_sign_in_page(bank_settings):
    with TestClient(create_app(bank_settings), follow_redirects=False) as c:
        for path in ("/reports/calibration", "/reports/calibration/1", "/reports/items/530046-L1-001",
                     "/reports/blueprints", "/reports/blueprints/530046-L1"):
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}", path


def test_the_run_page_shows_the_run_and_every_estimate(bank_db, seeded, admin):
    run = seeded["run"]
    html = admin.get(f"/reports/calibration/{run.id}").text
    assert f"校准记录 {run.id}" in html and "未写入题库" in html and "预测试题校准" in html
    assert re.search(r'id="n-persons">400<', html) and f'id="n-responses">{run.n_responses}<' in html
    assert f'id="loglik">{run.loglik:.3f}<' in html and "已收敛" in html
    rows = {e.external_id: e for e in bank_db.scalars(
        select(CalibrationEstimate).where(CalibrationEstimate.run_id == run.id))}
    table = cell_text(html, "estimates")
    assert len(table) == len(rows)
    for cells in table:
        e = rows[cells[0]]
        assert cells[1] == ("锚题" if e.role == "anchor" else "估计")
        assert (cells[5], cells[7]) == (f"{e.a:.3f}", f"{e.b:.3f}")
        assert cells[14] == ("漂移" if e.drift else "")
        if e.role == "estimated":
            assert (cells[15] == "是") if e.eligible else cells[15].startswith("否：")
    eligible = sorted(x for x, e in rows.items() if e.eligible)
    assert re.search(r'id="n-eligible">(\d+)<', html).group(1) == str(len(eligible))
    assert all(f'href="/reports/items/{x}">{x}</a>' in html for x in eligible)
    index = admin.get("/reports/calibration").text
    assert f'href="/reports/calibration/{run.id}"' in index and "校准记录" in index


def test_the_item_report_plots_observed_proportions_by_ability_group(bank_db, seeded, admin):
    ext = seeded["pretest"][1]
    html = admin.get(f"/reports/items/{ext}").text
    assert "项目特征曲线" in html and "项目信息函数" in html and "经典项目分析" in html
    # independently: the item's answered responses with their attempts' thetas, sorted by
    # (theta, attempt), cut into equal groups (the first n mod G one larger)
    rows = bank_db.execute(
        select(Attempt.id, Attempt.theta, AttemptItem.score).join(Attempt, AttemptItem.attempt_id == Attempt.id)
        .join(ItemVersion, AttemptItem.item_version_id == ItemVersion.id).join(Item, ItemVersion.item_id == Item.id)
        .where(Item.external_id == ext, AttemptItem.score.is_not(None))).all()
    rows.sort(key=lambda r: (r[1], r[0]))
    n = len(rows)
    g = min(10, n // 25)
    assert 6 <= g <= 10
    sizes = [n // g + (1 if k < n % g else 0) for k in range(g)]
    expected, start = [], 0
    for size in sizes:
        chunk = rows[start:start + size]
        start += size
        expected.append((sum(r[1] for r in chunk) / size, sum(r[2] for r in chunk) / size))
    icc = svg(html, "icc")
    points = marks(icc, "observed")
    assert len(points) == g
    got = [(float(p.get("data-x")), float(p.get("data-y"))) for p in points]
    np.testing.assert_allclose(got, expected, atol=6e-5)  # data attributes carry 4 decimals
    assert f'id="n-answered">{n}<' in html
    # the model curves: the bank's, and the run's estimate (different from the bank) dashed
    curves = [p for p in icc.iter(f"{SVG}polyline")]
    assert len(curves) == 2 and curves[1].get("stroke-dasharray")
    assert len(curves[0].get("points").split()) == 161
    info = svg(html, "information")
    assert len(list(info.iter(f"{SVG}polyline"))) == 2
    # the classical statistics are those of the level
    stats = next(s for s in item_statistics(bank_db, scope="530046-L1") if s.external_id == ext)
    assert re.search(r'id="stat-p">([^<]+)<', html).group(1) == f"{stats.p_value:.3f}"
    assert re.search(r'id="stat-r">([^<]+)<', html).group(1) == f"{stats.point_biserial:.3f}"
    assert re.search(r'id="stat-n">(\d+)<', html).group(1) == str(stats.n_answered)
    options = cell_text(html, "options")
    assert [c[1] for c in options] == [str(o.n) for o in stats.options]
    assert f'href="/reports/calibration/{seeded["run"].id}"' in html  # the calibration history


def test_an_item_without_responses_has_curves_but_no_groups(seeded, admin):
    html = admin.get("/reports/items/530046-L2-001").text
    assert 'id="no-groups"' in html and "本版本还没有作答记录" in html
    assert marks(svg(html, "icc"), "observed") == []
    r = admin.get("/reports/items/NO-SUCH-ITEM")
    assert r.status_code == 404 and "未找到题目：NO-SUCH-ITEM" in r.text


def test_the_blueprint_report_marks_the_cut_scores_of_resolve_cuts(bank_db, bank_settings):
    from examengine.irt.models import item_information
    from examengine.services.blueprints import get_blueprint_version, load_pool, resolve_cuts

    _, bp = get_blueprint_version(bank_db, "530046-L2")
    params = load_pool(bank_db, bp).pool.params
    cuts = resolve_cuts(bp, params)
    with staff_client(bank_settings, "出题人", "item_writer") as c:  # any staff may read reports
        html = c.get("/reports/blueprints/530046-L2").text
        assert 'href="/reports/blueprints/530046-L2"' in c.get("/reports/blueprints").text
    chart = svg(html, "pool-information")
    lines = marks(chart, "cut")
    assert [float(g.get("data-theta")) for g in lines] == pytest.approx([c.theta for c in cuts], abs=6e-5)
    assert [g.find(f"{SVG}text").text for g in lines] == [f"{c.level_name} {c.theta:.2f}" for c in cuts]
    assert {"初级", "中级", "高级"} >= {c.level_name for c in cuts} and len(cuts) >= 1
    table = cell_text(html, "cuts")
    info = item_information(np.array([c.theta for c in cuts]), params)
    for row, cut, pool_info, item_info in zip(table, cuts, info.sum(axis=1), info, strict=True):
        assert row[0] == cut.level_name and row[1] == f"{cut.theta:.3f}"
        assert row[4] == f"{pool_info:.1f}"
        assert row[5] == f"{np.sort(item_info)[::-1][:bp.max_length].sum():.1f}"
    assert "目标测量精度" in html


def test_the_blueprint_pages_say_whether_online_exams_run_with_exposure_control(bank_db, bank_settings):
    """Without stored Sympson-Hetter parameters online exams run without exposure control: the
    blueprint list, the blueprint page and the proctor's exam form say so; once parameters are
    stored the page shows when, how many items they restrict and the calibration's check."""
    from examengine.services.blueprints import get_blueprint_version, load_pool

    row, bp = get_blueprint_version(bank_db, "530046-L2")
    row.exposure = {}  # init stored the parameters shipped with the sample bank: remove them
    bank_db.commit()
    with staff_client(bank_settings, "监考", "proctor") as c:
        listed = dict((r[0], r[5]) for r in cell_text(c.get("/reports/blueprints").text, "blueprints"))
        assert listed["530046-L2"] == "未标定（不做曝光控制）"
        html = c.get("/reports/blueprints/530046-L2").text
        assert "未标定：此版本的在线考试不做曝光控制" in html and "examengine exposure calibrate 530046-L2" in html
        option = re.search(r'<option value="530046-L2">(.*?)</option>', c.get("/proctor").text).group(1)
        assert option.endswith("（未标定曝光参数：不做曝光控制）")
        ids = load_pool(bank_db, bp).pool.item_ids
        k = {i: (0.5 if n % 3 == 0 else 1.0) for n, i in enumerate(ids)}
        row.exposure = {"target": bp.exposure_max_rate, "k": k, "calibrated_at": "2026-12-04T02:30:00+00:00",
                        "check": {"max_exposure": 0.2412, "pool_used_share": 0.875, "pass_fail_accuracy": 0.9,
                                  "mean_length": 23.46, "exhausted_share": 0.004}}
        bank_db.commit()
        html = c.get("/reports/blueprints/530046-L2").text
        listed = dict((r[0], r[5]) for r in cell_text(c.get("/reports/blueprints").text, "blueprints"))
        option = re.search(r'<option value="530046-L2">(.*?)</option>', c.get("/proctor").text).group(1)
    assert listed["530046-L2"] == "已标定" and "未标定" not in option
    table = re.search(r'<table id="exposure">(.*?)</table>', html, re.S).group(1)
    status = {r[0]: r[1] for r in re.findall(r"<tr><th>([^<]*)</th><td[^>]*>(.*?)</td></tr>", table, re.S)}
    restricted = sum(1 for v in k.values() if v < 1.0)
    assert status["Sympson–Hetter 参数"] == f"已标定（2026-12-04 10:30，北京时间），{restricted} 道题受限"
    assert status["曝光率上限"] == f"{bp.exposure_max_rate:.2f}" and status["渐进开局"] == f"前 {bp.progressive_items} 题"
    assert status["标定检验：最大曝光率"] == "0.241" and status["标定检验：题库使用比例"] == "87.5%"
    assert status["标定检验：平均考试长度"] == "23.5 题" and status["标定检验：因题库用尽提前结束"] == "0.4%"


def test_the_writer_item_page_shows_the_item_statistics(bank_db, bank_settings, seeded):
    ext = seeded["pretest"][0]
    stats = next(s for s in item_statistics(bank_db, scope="530046-L1") if s.external_id == ext)
    with staff_client(bank_settings, "出题人", "item_writer") as c:
        html = c.get(f"/writer/items/{ext}").text
        rows = cell_text(html, "stats")
        assert rows == [["v1", str(stats.n_answered), f"{stats.p_value:.3f}", f"{stats.point_biserial:.3f}",
                         f"{stats.omit_rate:.3f}", "、".join(stats.flag_labels) or "无"]]
        assert "干扰项吸引高分考生" in rows[0][5]
        assert f'href="/reports/items/{ext}" id="report-link"' in html
        assert c.get(f"/reports/items/{ext}").status_code == 200
        untouched = c.get("/writer/items/530046-L2-001").text
        assert 'id="stats"' not in untouched and "还没有作答数据" in untouched
