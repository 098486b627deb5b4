"""run_from_files: the JSON shape, the report, bad files answered by clear errors."""

from __future__ import annotations

import json

import pytest

from lending.core.abs.cli import format_report, main, run_from_files
from lending.core.abs.errors import PoolError, StructureError

from .builders import DATA

POOL, STRUCTURE = DATA / "pool.csv", DATA / "structure.json"


@pytest.fixture(scope="module")
def result():
    return run_from_files(POOL, STRUCTURE, scenarios=4000, seed=1)


def test_result_shape(result):
    for key in ("expected_loss", "var_99", "var_999", "expected_shortfall_99", "loss_distribution", "summary",
                "stratification", "closed_form"):
        assert key in result["pool"]
    assert result["pool"]["var_99"] <= result["pool"]["var_999"]
    assert [t["name"] for t in result["tranches"]] == ["A", "B", "Equity"]
    for t in result["tranches"]:
        for key in ("name", "attachment", "detachment", "expected_loss", "probability_of_loss", "loss_given_loss",
                    "wal_years", "implied_rating", "expected_cashflows", "tranching", "closed_form"):
            assert key in t
        for key in ("expected_loss", "probability_of_loss", "loss_given_loss"):
            assert 0.0 <= t[key] <= 1.0
    assert "illustrative" in result["rating_table"]["label"]
    assert json.loads(json.dumps(result)) == result                 # plain JSON types only
    # Closed form and simulation agree on the pool's expected loss within Monte Carlo error.
    mc, cf = result["pool"]["expected_loss"], result["pool"]["closed_form"]["expected_loss"]
    assert abs(mc - cf) < 5 * result["pool"]["std"] / 4000 ** 0.5


def test_same_seed_same_json_and_correlation_override(result):
    assert run_from_files(POOL, STRUCTURE, scenarios=4000, seed=1) == result
    correlated = run_from_files(POOL, STRUCTURE, scenarios=4000, seed=1, correlation=0.5)
    assert correlated["pool"]["var_999"] > result["pool"]["var_999"]


def test_report_mentions_every_tranche(result):
    report = format_report(result)
    assert all(name in report for name in ("A", "B", "Equity"))
    assert "VaR 99.9%" in report and "illustrative" in report


def test_bad_files_raise_and_the_command_line_reports_them(tmp_path, capsys):
    bad_structure = tmp_path / "structure.json"
    bad_structure.write_text(json.dumps({"tranches": [
        {"name": "A", "attachment": 0.1, "detachment": 1.0},
        {"name": "E", "attachment": 0.0, "detachment": 0.15}]}), encoding="utf-8")
    with pytest.raises(StructureError, match="overlap"):
        run_from_files(POOL, bad_structure, scenarios=100)
    bad_pool = tmp_path / "pool.csv"
    bad_pool.write_text("id,balance,pd,lgd,maturity_months\nX1,100,0.05,0.4,12\nX2,100,2,0.4,12\n", encoding="utf-8")
    with pytest.raises(PoolError, match="row 2 \\(id 'X2'\\): field 'pd'"):
        run_from_files(bad_pool, STRUCTURE, scenarios=100)
    assert main([str(bad_pool), str(STRUCTURE), "--scenarios", "100"]) == 2
    assert "field 'pd'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="scenarios"):
        run_from_files(POOL, STRUCTURE, scenarios=0)


def test_command_line_prints_json(capsys):
    assert main([str(POOL), str(STRUCTURE), "--scenarios", "1500", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["scenarios"] == 1500 and len(printed["tranches"]) == 3
