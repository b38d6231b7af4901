from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from examengine.services import exams
from examengine.services import forms as forms_svc

# Two rooms, seats given out of order (and "10" after "9", not after "1"), one candidate
# without a seat; 试卷 asks for a form per candidate.
ROSTER = """准考证号,姓名,考场,座位号,试卷
T01,甲一,第1考场,3,A
T02,甲二,第1考场,1,B
T03,甲三,第1考场,10,A
T04,甲四,第1考场,2,B
T05,甲五,第1考场,9,A
T06,乙一,第2考场,2,B
T07,乙二,第2考场,1,A
T08,乙三,第2考场,,B
T09,丙一,第10考场,1,A
"""


@pytest.fixture
def l1_pair(bank_db):
    """Two parallel 20-item forms of 530046-L1, seed 3."""
    return forms_svc.assemble(bank_db, blueprint="530046-L1", n_forms=2, length=20, actor="test", seed=3)


@pytest.fixture
def seated_exam(bank_db):
    """An exam of 530046-L1 with the roster above (nine candidates in three rooms)."""
    exam = exams.create_exam(bank_db, blueprint="530046-L1", name="纸笔", actor="test", zone=ZoneInfo("Asia/Shanghai"))
    exams.import_roster(bank_db, exam.id, "名单.csv", ROSTER.encode(), actor="test")
    return exam.id
