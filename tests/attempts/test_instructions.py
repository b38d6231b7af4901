"""The candidate's instructions quote the blueprint's length bounds (issue 24)."""

from __future__ import annotations

import re

from examengine.datafiles import read_blueprint_file
from tests.conftest import REPO


def test_the_instructions_give_the_blueprints_scored_length_and_the_pretest_items_apart(api, exam):
    _, tickets = exam
    bp = read_blueprint_file(REPO / "blueprints" / "530046-L1.yaml")
    assert bp.pretest_count > 0  # the case the issue met: 10–40 scored, shown as "12–42 题"
    t = tickets[0]
    api.cookies.clear()
    r = api.post("/exam/login", data={"ticket": t["ticket"], "code": t["access_code"]},
                 headers={"Authorization": "", "Origin": "http://testserver"})
    assert r.status_code == 200 and "考试须知" in r.text, r.text
    text = re.sub(r"<[^>]+>", "", r.text)
    assert f"计分题 {bp.min_length}–{bp.max_length} 题" in text
    assert f"另有 {bp.pretest_count} 道不计分的试测题" in text
