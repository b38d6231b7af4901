"""Forms assembly and printing have bounds in the service, so the pages and the CLI get the
same answer as the API: a 422 naming the field, not a solver run for a billion items."""

from __future__ import annotations

import pytest

from examengine.errors import DataFileError
from examengine.services import forms as svc


@pytest.mark.parametrize("kw,field", [
    ({"length": 10**9}, "length"), ({"length": 0}, "length"), ({"n_forms": 0}, "forms"),
    ({"max_overlap": -1}, "overlap"), ({"max_overlap": 10**6}, "overlap"), ({"avoid_recent": 10**6}, "avoid_recent"),
    ({"seed": 2**40}, "seed"), ({"time_limit": 1e9}, "time_limit"), ({"parallel_tolerance": 2.0}, "tolerance"),
])
def test_an_assembly_out_of_bounds_is_refused_naming_the_field(bank_db, kw, field):
    args = {"blueprint": "530046-L1", "n_forms": 2, "length": 20, "actor": "t", **kw}
    with pytest.raises(DataFileError) as info:
        svc.assemble(bank_db, **args)
    assert [p.field for p in info.value.problems] == [field]


def test_blank_answer_sheets_are_bounded(bank_db):
    with pytest.raises(DataFileError) as info:
        svc.print_context(bank_db, 1, blank_sheets=10**7)
    assert [p.field for p in info.value.problems] == ["blank"]


def test_the_api_request_model_takes_its_bounds_from_the_service():
    from examengine.api.forms import AssembleIn

    props = AssembleIn.model_json_schema()["properties"]
    assert props["length"]["maximum"] == svc.ASSEMBLY_BOUNDS["length"][1]
    assert props["forms"]["maximum"] == svc.ASSEMBLY_BOUNDS["forms"][1]
