"""One reader per uploaded table: rosters, paper answers and response matrices, read without a
database, every problem named by file, row and field."""

from __future__ import annotations

import math

import pytest

from examengine.errors import DataFileError
from examengine.itemfiles.tables import (
    RosterRow,
    read_item_parameters,
    read_paper_answers,
    read_response_matrix,
    read_roster,
)

LENGTHS = {"准考证号": 10, "姓名": 4, "身份证号后四位": 4, "考场": 8, "座位号": 3}


def problems(call) -> list[tuple[str, str, str, str]]:
    with pytest.raises(DataFileError) as exc:
        call()
    return [(p.file, p.location, p.field, p.message) for p in exc.value.problems]


def test_a_roster_becomes_rows_with_the_optional_columns_blank_when_absent():
    rows = read_roster("名单.csv", "准考证号,姓名\nT1,张三\nT2,李四\n".encode(), lengths=LENGTHS)
    assert rows == [RosterRow("T1", "张三"), RosterRow("T2", "李四")]


def test_a_roster_may_give_each_candidate_a_seat():
    rows = read_roster("名单.csv", "准考证号,姓名,考场,座位号\nT1,张三,一,07\nT2,李四,一,\n".encode(), lengths=LENGTHS)
    assert [(r.room, r.seat) for r in rows] == [("一", "07"), ("一", "")]
    data = "准考证号,姓名,座位号\nT1,张三,1234\n".encode()
    assert problems(lambda: read_roster("名单.csv", data, lengths=LENGTHS)) == [
        ("名单.csv", "第 2 行", "座位号", "座位号不能超过 3 个字符，实际为 4 个")]


def test_every_bad_roster_row_is_named_by_row_and_field():
    data = "准考证号,姓名,身份证号后四位\nT1,张三,12X4\nT1,,\n,王五五五五,\n".encode()
    assert problems(lambda: read_roster("名单.csv", data, lengths=LENGTHS)) == [
        ("名单.csv", "第 2 行", "身份证号后四位", "应为 4 位（末位可为 X），实际为“12X4”"),
        ("名单.csv", "第 3 行", "准考证号", "准考证号 T1 与第 2 行重复"),
        ("名单.csv", "第 3 行", "姓名", "姓名不能为空"),
        ("名单.csv", "第 4 行", "姓名", "姓名不能超过 4 个字符，实际为 5 个"),
        ("名单.csv", "第 4 行", "准考证号", "准考证号不能为空"),
    ]


def test_a_roster_without_its_required_columns_names_them():
    assert problems(lambda: read_roster("名单.csv", "考场\n1\n".encode(), lengths=LENGTHS)) == [
        ("名单.csv", "第 1 行", "准考证号", "缺少必填列“准考证号”"),
        ("名单.csv", "第 1 行", "姓名", "缺少必填列“姓名”"),
    ]


def test_paper_answers_come_back_as_written_from_one_answer_column():
    (row,) = read_paper_answers("答案.csv", "准考证号,试卷,答案\nT1,a,\"A,BD,对\"\n".encode())
    assert (row.row, row.location, row.ticket, row.form, row.answers) == (2, "第 2 行", "T1", "A", "A,BD,对")


def test_paper_answers_from_one_column_per_item_leave_missing_questions_blank():
    (row,) = read_paper_answers("答案.csv", "准考证号,试卷,第1题,2,Q4\nT1,B,A,C,D\n".encode())
    assert row.answers is None
    assert row.item_texts(4) == ["A", "C", "", "D"]


def test_paper_answers_without_their_columns_name_each_one():
    assert problems(lambda: read_paper_answers("答案.csv", "姓名\n张三\n".encode())) == [
        ("答案.csv", "第 1 行", "准考证号", "缺少必填列“准考证号”"),
        ("答案.csv", "第 1 行", "试卷", "缺少必填列“试卷”（试卷代码 A/B）"),
        ("答案.csv", "第 1 行", "答案", "缺少答案：一列“答案”（如 A,BD,对）或每题一列（1, 2, 3 …）"),
    ]


def test_a_response_matrix_reads_gb18030_with_blank_as_missing_and_blank_rows_skipped():
    m = read_response_matrix("作答.csv", "题1,题2\n1,0\n\n0,\n".encode("gb18030"))
    assert m.item_ids == ["题1", "题2"]
    assert m.rows[0] == [1.0, 0.0] and m.rows[1][0] == 0.0 and math.isnan(m.rows[1][1])


def test_every_bad_matrix_cell_is_named_by_row_and_item():
    data = b"i1,i1,\n1,2,0\n1\n"
    assert problems(lambda: read_response_matrix("m.csv", data)) == [
        ("m.csv", "第 1 行", "第 2 列", "题目编号“i1”重复"),
        ("m.csv", "第 1 行", "第 3 列", "题目编号为空"),
        ("m.csv", "第 2 行", "i1", "作答应为 0、1 或留空，实际为“2”"),
        ("m.csv", "第 3 行", "列数", "应有 3 列，实际 1 列"),
    ]


def test_a_roster_keeps_its_group_columns_and_ignores_other_extra_columns():
    data = "准考证号,姓名,性别,年龄段,分组：民族,备注\nT1,张三,女,18-24,汉,x\nT2,李四,,,,\n".encode()
    rows = read_roster("名单.csv", data, lengths=LENGTHS)
    assert rows[0].groups == {"性别": "女", "年龄段": "18-24", "民族": "汉"}
    assert rows[1].groups == {}
    assert problems(lambda: read_roster("名单.csv", "准考证号,姓名,分组:\nT1,张三,x\n".encode(), lengths=LENGTHS)) == [
        ("名单.csv", "第 1 行", "分组:", "分组名称应为 1–20 个字符")]


def test_a_response_matrix_hands_back_its_text_columns_and_names_a_missing_one():
    m = read_response_matrix("m.csv", "考号,i1,组,i2\nP1,1,A,0\nP2,,B,1\n".encode(), text_columns=("组", "考号"))
    assert m.item_ids == ["i1", "i2"] and m.columns == {"组": ["A", "B"], "考号": ["P1", "P2"]}
    assert m.rows[0] == [1.0, 0.0] and math.isnan(m.rows[1][0])
    assert problems(lambda: read_response_matrix("m.csv", b"i1\n1\n", text_columns=("group",))) == [
        ("m.csv", "第 1 行", "group", "缺少列“group”")]


def test_item_parameters_read_as_calibrate_writes_them_and_every_bad_cell_is_named():
    rows = read_item_parameters("p.csv", "item,a,b,c,se_a,se_b,se_c\n'=Q1,1.2,-0.5,0.1,,,\nQ2,0.8,1,,,,\n".encode())
    assert [(r.item, r.a, r.b, r.c) for r in rows] == [("=Q1", 1.2, -0.5, 0.1), ("Q2", 0.8, 1.0, 0.0)]
    data = b"item,a,b,c\nQ1,0,1,0\nQ1,1,x,1\n"
    assert problems(lambda: read_item_parameters("p.csv", data)) == [
        ("p.csv", "第 2 行", "a", "a 应为大于 0 的数，实际为“0”"),
        ("p.csv", "第 3 行", "item", "题目编号“Q1”与第 2 行重复"),
        ("p.csv", "第 3 行", "b", "b 应为有限的数，实际为“x”"),
        ("p.csv", "第 3 行", "c", "c 应在 [0, 1) 内，实际为“1”"),
    ]
    assert problems(lambda: read_item_parameters("p.csv", b"item,b\nQ1,0\n")) == [
        ("p.csv", "第 1 行", "a", "缺少列“a”")]
