"""A broken catalog file is refused with the file, the place and the field named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from examengine.datafiles import read_standard_file, read_standards_dir
from examengine.errors import DataFileError
from tests.conftest import REPO

SOURCE = REPO / "blueprints" / "standards" / "560003.yaml"


def edited(tmp_path: Path, edit) -> Path:
    doc = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    edit(doc)
    path = tmp_path / "560003.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(DataFileError) as info:
        read_standard_file(path)
    return [(p.file, p.location, p.field) for p in info.value.problems]


def test_a_requirement_without_text_is_named_by_code_and_field(tmp_path):
    def edit(doc):
        del doc["levels"][1]["domains"][0]["tasks"][2]["requirements"][1]["text"]

    assert problems_of(edited(tmp_path, edit)) == [("560003.yaml", "560003-L2-1.3.2", "text")]


def test_a_code_out_of_sequence_is_refused(tmp_path):
    def edit(doc):
        doc["levels"][0]["domains"][1]["tasks"][0]["requirements"][3]["code"] = "560003-L1-2.1.9"

    [(file, location, field)] = problems_of(edited(tmp_path, edit))
    assert (file, location, field) == ("560003.yaml", "560003-L1-2.1.9", "code")


def test_a_duplicate_code_is_refused(tmp_path):
    def edit(doc):
        reqs = doc["levels"][2]["domains"][0]["tasks"][0]["requirements"]
        reqs[1]["code"] = reqs[0]["code"]

    found = problems_of(edited(tmp_path, edit))
    assert ("560003.yaml", "560003-L3-1.1.1", "code") in found


def test_an_unknown_level_and_a_correction_to_nothing_are_both_reported(tmp_path):
    def edit(doc):
        doc["levels"][2]["level"] = "L9"
        doc["corrections"][0]["code"] = "560003-L2-9.9.9"

    found = problems_of(edited(tmp_path, edit))
    assert ("560003.yaml", "levels[3]", "level") in found
    assert ("560003.yaml", "corrections[1]", "code") in found


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("code: '560003'\nlevels: [\n  - : :\n", encoding="utf-8")
    [(file, location, _)] = problems_of(path)
    assert file == "bad.yaml" and location.startswith("第 ")


def test_a_folder_reports_the_problems_of_every_file_at_once(tmp_path):
    shutil.copy(SOURCE, tmp_path / "560003.yaml")
    (tmp_path / "a.yaml").write_text("- just a list\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("code: '12'\n", encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        read_standards_dir(tmp_path)
    files = {p.file for p in info.value.problems}
    assert files == {"a.yaml", "b.yaml"}
