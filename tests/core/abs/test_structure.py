"""Structure validation: tranches tile [0, 1] exactly; every bad field is named."""

from __future__ import annotations

import json

import pytest

from lending.core.abs.errors import StructureError
from lending.core.abs.structure import (
    CopulaSpec,
    Structure,
    Tranche,
    read_structure_json,
    structure_from_dict,
)

from .builders import DATA


def deal(*tranches, **extra):
    return {"tranches": [dict(zip(("name", "attachment", "detachment", "coupon"), t)) for t in tranches], **extra}


GOOD = (("A", 0.2, 1.0, 0.04), ("B", 0.1, 0.2, 0.06), ("E", 0.0, 0.1, 0.0))


def test_sample_structure_reads_and_sorts_senior_first():
    structure = read_structure_json(DATA / "structure.json")
    assert structure.names == ["A", "B", "Equity"]
    assert structure.waterfall == "sequential" and structure.horizon_months == 60
    assert structure.oc_triggers["A"] == 1.10 and structure.ic_triggers["A"] == 1.20
    assert structure.assumptions.copula.sector_rho["forging"] == 0.20
    shuffled = structure_from_dict(deal(GOOD[2], GOOD[0], GOOD[1]))
    assert shuffled.names == ["A", "B", "E"]
    assert [t.size for t in shuffled.tranches] == pytest.approx([0.8, 0.1, 0.1])


@pytest.mark.parametrize("tranches, tranche, field, fragment", [
    ((("A", 0.15, 1.0), ("B", 0.1, 0.2), ("E", 0.0, 0.1)), "B", "detachment", "overlap between 0.15 and 0.2"),
    ((("A", 0.25, 1.0), ("B", 0.1, 0.2), ("E", 0.0, 0.1)), "B", "detachment", "gap between tranche 'B'"),
    ((("A", 0.2, 1.0), ("B", 0.3, 0.2), ("E", 0.0, 0.1)), "B", "attachment", "must be below detachment"),
    ((("A", 0.2, 1.0), ("B", 0.2, 0.2), ("E", 0.0, 0.2)), "B", "attachment", "not positive"),
    ((("A", 0.2, 1.0), ("E", -0.1, 0.2)), "E", "attachment", "outside [0, 1]"),
    ((("A", 0.2, 0.9), ("E", 0.0, 0.2)), "A", "detachment", "gap at the top"),
    ((("A", 0.2, 1.0), ("E", 0.05, 0.2)), "E", "attachment", "gap at the bottom"),
    ((("A", 0.2, 1.0, -0.01), ("E", 0.0, 0.2)), "A", "coupon", "must be >= 0"),
    ((("A", 0.2, 1.0, 4.5), ("E", 0.0, 0.2)), "A", "coupon", "annual fraction"),
    ((("A", 0.2, 1.0), ("A", 0.0, 0.2)), "A", "name", "used twice"),
])
def test_bad_tranches_raise_naming_tranche_and_field(tranches, tranche, field, fragment):
    with pytest.raises(StructureError) as err:
        structure_from_dict(deal(*tranches))
    assert err.value.tranche == tranche and err.value.field == field
    assert repr(tranche) in str(err.value) and fragment in str(err.value)


@pytest.mark.parametrize("data, field, fragment", [
    (deal(*GOOD, waterfall="turbo"), "waterfall", "'turbo' unknown"),
    (deal(*GOOD, oc={"C": 1.1}), "oc", "names tranche 'C'"),
    (deal(*GOOD, ic={"A": -1}), "ic", "must be a number > 0"),
    (deal(*GOOD, horizon_months=0), "horizon_months", "1..1200"),
    (deal(*GOOD, horizon_months=5000), "horizon_months", "1..1200"),
    (deal(*GOOD, reserve={"target_fraction": -0.1}), "reserve.target_fraction", "[0, 1]"),
    (deal(*GOOD, reserve={"target": 0.1}), "target", "unknown field 'target'"),
    (deal(*GOOD, assumptions={"correlation": 1.0}), "correlation", "[0, 1)"),
    (deal(*GOOD, assumptions={"cpr": 1.2}), "cpr", "[0, 1)"),
    (deal(*GOOD, assumptions={"recovery_lag_months": 2.5}), "recovery_lag_months", "whole number"),
    (deal(*GOOD, waterfal="sequential"), "waterfal", "unknown field 'waterfal'"),
    ({"tranches": [{"name": "A", "attachement": 0.0, "detachment": 1.0}]}, "attachement", "unknown field"),
    ({"tranches": [{"name": "A", "detachment": 1.0}]}, "attachment", "is missing"),
    ({"tranches": [{"name": "A", "attachment": "zero", "detachment": 1.0}]}, "attachment", "not a finite number"),
    ({"tranches": []}, "tranches", "non-empty list"),
])
def test_bad_deal_fields(data, field, fragment):
    with pytest.raises(StructureError) as err:
        structure_from_dict(data)
    assert err.value.field == field and fragment in str(err.value)


def test_bad_json_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(StructureError, match="not valid JSON"):
        read_structure_json(path)
    path.write_text(json.dumps(deal(*GOOD)), encoding="utf-8")
    assert read_structure_json(path).names == ["A", "B", "E"]


def test_with_attachments_and_copula_helpers():
    structure = Structure(tranches=(Tranche("A", 0.2, 1.0), Tranche("E", 0.0, 0.2)))
    moved = structure.with_attachments([0.3, 0.0])
    assert [(t.attachment, t.detachment) for t in moved.tranches] == [(0.3, 1.0), (0.0, 0.3)]
    with pytest.raises(StructureError, match="not positive"):
        structure.with_attachments([0.0, 0.0])
    copula = CopulaSpec(rho=0.1, sector_rho={"x": 0.3}, global_factor_weight=0.5)
    assert list(copula.rho_for(["x", "y"])) == [0.3, 0.1] and not copula.is_one_factor
    assert copula.with_correlation(0.2).rho_for(["x"])[0] == 0.2
