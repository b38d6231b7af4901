"""``examengine simulate`` on a Typer app built here with ``register``."""

import json

import pytest
import typer
from typer.testing import CliRunner

from examengine.cli.simulate import register

REQUIRED_KEYS = {"rmse", "bias", "mean_length", "classification_accuracy", "max_exposure", "pool_used_share"}


@pytest.fixture
def app():
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """test app"""

    return app


def _invoke(app, *args):
    result = CliRunner().invoke(app, ["simulate", *args])
    return result


def test_simulate_prints_the_study_as_json_with_the_agreed_keys(app):
    result = _invoke(app, "--synthetic-bank", "200", "--simulees", "60", "--seed", "3", "--length", "20",
                     "--cuts", "-1,0,1", "--format", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert REQUIRED_KEYS <= payload.keys()
    assert payload["mean_length"] == 20 and payload["min_length"] == payload["max_length"] == 20
    assert 0 < payload["rmse"] < 0.6 and abs(payload["bias"]) < 0.3
    assert 0.5 <= payload["classification_accuracy"] <= 1
    assert [b["name"] for b in payload["classification_accuracy_by_band"]] == ["未达初级", "初级", "中级", "高级"]
    assert payload["max_exposure"] == 1.0  # fixed start: everybody gets the same first item
    assert payload["pool_used_share"] + payload["pool_never_used_share"] == pytest.approx(1.0)
    assert payload["stop_reasons"] == {"max_length": 60}


def test_the_same_seed_gives_the_same_json(app):
    args = ("--synthetic-bank", "100", "--simulees", "20", "--seed", "9", "--max-length", "15", "--se", "0.4",
            "--randomesque", "3", "--start", "random_theta")
    first = json.loads(_invoke(app, *args).stdout)
    second = json.loads(_invoke(app, *args).stdout)
    first.pop("seconds"), second.pop("seconds")
    assert first == second


def test_a_variable_length_study_stops_on_the_se_target_or_the_maximum(app):
    result = _invoke(app, "--synthetic-bank", "300", "--simulees", "40", "--seed", "1", "--max-length", "40",
                     "--se", "0.35", "--min-length", "5")
    payload = json.loads(result.stdout)
    assert set(payload["stop_reasons"]) <= {"se_target", "max_length"}
    assert 5 <= payload["min_length"] and payload["max_length"] <= 40
    assert payload["classification_accuracy"] is None


def test_thetas_from_a_grid_or_a_file_set_the_simulees(app, tmp_path):
    grid = json.loads(_invoke(app, "--synthetic-bank", "100", "--theta-grid", "-2:2:9", "--length", "10").stdout)
    assert grid["n_simulees"] == 9 and grid["settings"]["theta_source"] == "grid"
    f = tmp_path / "thetas.csv"
    f.write_text("theta\n-1.0\n0.5  # a comment\n\n2.0\n", encoding="utf-8")
    from_file = json.loads(_invoke(app, "--synthetic-bank", "100", "--theta-file", str(f), "--length", "10").stdout)
    assert from_file["n_simulees"] == 3


def test_exposure_target_calibrates_sympson_hetter_first(app):
    result = _invoke(app, "--synthetic-bank", "120", "--simulees", "300", "--seed", "2", "--length", "8",
                     "--exposure-target", "0.3", "--calibration-simulees", "200")
    payload = json.loads(result.stdout)
    assert payload["exposure_control"]["method"] == "sympson_hetter"
    assert payload["max_exposure"] < 0.45


def test_table_format_and_plot(app, tmp_path):
    png = tmp_path / "study.png"
    result = _invoke(app, "--synthetic-bank", "100", "--simulees", "30", "--length", "10", "--cuts", "0",
                     "--format", "table", "--plot", str(png))
    assert result.exit_code == 0, result.output
    assert "RMSE" in result.stdout and "停止原因" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--length", "10", "--max-length", "20"), "either --length"),
        ((), "--length L"),
        (("--length", "10", "--cuts", "a,b"), "cut scores"),
        (("--length", "10", "--theta-grid", "1:2"), "theta-grid"),
        (("--max-length", "10", "--selection", "cut_info"), "needs --cuts"),
    ],
)
def test_bad_options_are_named(app, args, message):
    result = _invoke(app, "--synthetic-bank", "50", *args)
    assert result.exit_code != 0
    assert message in result.output


def _strict(text: str):
    """JSON as parsers other than Python's read it: no NaN, Infinity or -Infinity."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def test_print_json_writes_undefined_and_unbounded_numbers_as_null(capsys):
    import numpy as np

    from examengine.cli.common import print_json

    print_json({"lower": -np.inf, "upper": float("inf"), "accuracy": np.float64("nan"), "n": np.int64(3),
                "bins": (np.float32(0.5), np.float32("-inf"))})
    assert _strict(capsys.readouterr().out) == {"lower": None, "upper": None, "accuracy": None, "n": 3,
                                                 "bins": [0.5, None]}


def test_the_blueprint_study_prints_strict_json(bank_db_url, monkeypatch):
    from examengine.cli import app as cli
    from tests.conftest import REPO

    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    r = CliRunner().invoke(cli, ["simulate", "--blueprint", "530046-L1", "--simulees", "40", "--seed", "2",
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    payload = _strict(r.stdout)
    assert payload["n_simulees"] == 40


def test_the_plot_is_labelled_in_chinese_in_a_cjk_face(app, tmp_path, monkeypatch):
    import warnings

    from examengine.rendering import plots

    assert plots.cjk_families(), "no CJK face: make system-deps installs fonts-noto-cjk"
    seen: list[str] = []
    real = plots.study_figure

    def spy(result, zh=True):
        fig = real(result, zh)
        seen.extend(t.get_text() for ax in fig.axes for t in (ax.title, ax.xaxis.label, ax.yaxis.label))
        return fig

    monkeypatch.setattr(plots, "study_figure", spy)
    png = tmp_path / "study.png"
    with warnings.catch_warnings():
        # matplotlib warns of every character its font cannot draw ("Glyph ... missing from font(s)")
        warnings.filterwarnings("error", message=".*missing from font", category=UserWarning)
        result = _invoke(app, "--synthetic-bank", "100", "--simulees", "30", "--length", "10",
                         "--exposure-target", "0.5", "--calibration-simulees", "30", "--plot", str(png))
    assert result.exit_code == 0, result.output
    assert {"真实能力 θ", "能力估计 θ", "曝光率", "平均题数"} <= set(seen)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
