"""Every catalog command of the CLI, as a user types it."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from examengine.cli import app
from examengine.db.models import Requirement

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_help_lists_every_command():
    result = run("--help")
    assert result.exit_code == 0
    for name in ("init", "db", "standards", "serve"):
        assert name in result.output
    sub = run("standards", "--help")
    for name in ("list", "show", "export", "corrections"):
        assert name in sub.output


def test_init_twice_leaves_the_same_rows_and_says_so(monkeypatch, empty_db_url):
    from tests.conftest import REPO

    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    first = run("init")
    assert first.exit_code == 0, first.output
    assert "职业技能要求 新增 313" in first.output
    engine = create_engine(empty_db_url)
    with engine.connect() as conn:
        rows1 = conn.execute(select(Requirement.id, Requirement.code, Requirement.text).order_by(Requirement.id)).all()
    second = run("init")
    assert second.exit_code == 0, second.output
    assert "无变化" in second.output
    assert "新增" not in second.output
    with engine.connect() as conn:
        rows2 = conn.execute(select(Requirement.id, Requirement.code, Requirement.text).order_by(Requirement.id)).all()
        assert conn.scalar(select(func.count()).select_from(Requirement)) == 313
    engine.dispose()
    assert rows1 == rows2


def test_db_upgrade_migrates_an_empty_database_once(monkeypatch, empty_db_url):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", empty_db_url)
    first = run("db", "upgrade")
    assert first.exit_code == 0 and "→" in first.output
    second = run("db", "upgrade")
    assert second.exit_code == 0 and "已是最新版本" in second.output
    current = run("db", "current")
    from examengine.db.migrate import head_revision

    assert f"当前版本：{head_revision(empty_db_url)}" in current.output


def test_a_command_on_an_uninitialised_database_says_to_run_init(monkeypatch, tmp_path):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    result = run("standards", "list")
    assert result.exit_code == 1
    assert "examengine init" in result.output
    assert not (tmp_path / "none.db").exists()


def test_standards_list_shows_each_level_with_its_counts(cli_env):
    result = run("standards", "list", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert [s["code"] for s in data] == ["530046", "560003"]
    assert [lv["counts"]["requirements"] for lv in data[1]["levels"]] == [46, 63, 50]
    table = run("standards", "list")
    assert "移动互联网运营" in table.output and "新媒体技术" in table.output


def test_standards_show_prints_the_tree_in_chinese(cli_env):
    result = run("standards", "show", "530046-L2")
    assert result.exit_code == 0
    assert "530046-L2-4.1.7 能针对生活服务平台特点形成流量运营方案。" in result.output
    assert "工作领域：社交网络内容运营" in result.output
    assert "530046-L1-" not in result.output
    assert "共 1 个级别、4 个工作领域、12 个工作任务、50 条职业技能要求" in result.output


def test_standards_show_of_an_unknown_code_fails_naming_it(cli_env):
    result = run("standards", "show", "999999")
    assert result.exit_code == 1
    assert "999999" in result.output


def test_standards_corrections_lists_original_and_corrected_text(cli_env):
    result = run("standards", "corrections", "530046-L3")
    assert result.exit_code == 0
    assert "530046-L3-4.3.4" in result.output and "4.3.2" in result.output


def test_standards_export_gives_the_whole_catalog_as_json(cli_env):
    result = run("standards", "export", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    per_std = {}
    for s in data["standards"]:
        reqs = [r for lv in s["levels"] for d in lv["domains"] for t in d["tasks"] for r in t["requirements"]]
        per_std[s["code"]] = (len(s["levels"]), sum(len(lv["domains"]) for lv in s["levels"]),
                              sum(len(d["tasks"]) for lv in s["levels"] for d in lv["domains"]), len(reqs))
        for r in reqs:
            assert set(r) >= {"code", "text"} and r["text"]
        for lv in s["levels"]:
            for d in lv["domains"]:
                assert d["code"] and d["name"]
                for t in d["tasks"]:
                    assert t["code"] and t["name"]
    assert per_std == {"530046": (3, 12, 37, 154), "560003": (3, 10, 30, 159)}
    texts = {r["code"]: r["text"] for s in data["standards"] for lv in s["levels"] for d in lv["domains"]
             for t in d["tasks"] for r in t["requirements"]}
    assert texts["530046-L3-4.2.2"] == "能对生活服务平台上的用户类数据进行分析和诊断。"
    assert " and " not in json.dumps(texts, ensure_ascii=False)


def test_standards_export_refuses_an_unknown_format(cli_env):
    result = run("standards", "export", "--format", "xml")
    assert result.exit_code == 1 and "xml" in result.output


def test_a_command_needing_a_missing_extra_says_which_to_install_before_any_work(monkeypatch, tmp_path):
    import sys

    src = tmp_path / "m.csv"
    src.write_text("i1,i2\n1,0\n0,1\n1,1\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "girth", None)  # as if the [reference] extra were not installed
    r = run("calibrate", "--responses", str(src), "--engine", "girth", "--out", str(tmp_path / "p.csv"))
    assert r.exit_code == 1 and "pip install 'examengine[reference]'" in r.output and "girth" in r.output
    assert not (tmp_path / "p.csv").exists()

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # [plots]
    r = run("simulate", "--synthetic-bank", "20", "--simulees", "5", "--length", "3", "--plot", str(tmp_path / "s.png"))
    assert r.exit_code == 1 and "pip install 'examengine[plots]'" in r.output
    assert not (tmp_path / "s.png").exists()


def test_girth_and_matplotlib_are_extras_and_tzdata_is_a_runtime_dependency():
    import tomllib

    from tests.conftest import REPO

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    assert "girth" not in runtime and "matplotlib" not in runtime and "tzdata" in runtime
    extras = project["optional-dependencies"]
    assert any(d.startswith("girth") for d in extras["reference"])
    assert any(d.startswith("matplotlib") for d in extras["plots"])
    assert "examengine[reference,plots]" in extras["dev"]
