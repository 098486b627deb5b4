"""Pool CSV validation, PD conversion, schedules and stratification."""

from __future__ import annotations

import numpy as np
import pytest

from lending.core.abs.errors import PoolError
from lending.core.abs.pool import (
    Pool,
    pool_summary,
    read_pool_csv,
    scheduled_balance_table,
    stratify,
    top_obligor_concentration,
    weighted_average_coupon,
    weighted_average_life_years,
)

from .builders import DATA

HEADER = "id,balance,pd,lgd,maturity_months,sector,rate"
GOOD_ROW = "F1,1000,0.05,0.4,24,a,0.05"


def write_csv(tmp_path, *rows, header=HEADER):
    path = tmp_path / "pool.csv"
    path.write_text("\n".join((header,) + rows) + "\n", encoding="utf-8")
    return path


def test_sample_pool_reads():
    pool = read_pool_csv(DATA / "pool.csv")
    assert pool.size == 16
    assert pool.total_balance == pytest.approx(3_330_000)
    assert set(pool.amortisation) == {"annuity", "linear", "bullet"}
    assert np.isfinite(pool.pd).sum() == 3 and np.isfinite(pool.pd_annual).sum() == 13


@pytest.mark.parametrize("row, row_no, field, fragment", [
    ("F2,abc,0.05,0.4,24,a,0.05", 2, "balance", "not a number"),
    ("F2,1000,1.5,0.4,24,a,0.05", 2, "pd", "(0, 1)"),
    ("F2,1000,0,0.4,24,a,0.05", 2, "pd", "(0, 1)"),
    ("F2,-5,0.05,0.4,24,a,0.05", 2, "balance", ">= 0"),
    ("F2,1000,0.05,1.2,24,a,0.05", 2, "lgd", "[0, 1]"),
    ("F2,1000,0.05,0.4,0,a,0.05", 2, "maturity_months", "> 0"),
    ("F2,1000,0.05,0.4,-3,a,0.05", 2, "maturity_months", "> 0"),
    ("F2,1000,0.05,0.4,12.5,a,0.05", 2, "maturity_months", "whole number"),
    ("F2,1000,0.05,0.4,5000,a,0.05", 2, "maturity_months", "at most 1200"),
    ("F2,1000,,0.4,24,a,0.05", 2, "pd", "missing"),
    ("F2,1000,0.05,0.4,24,a,5", 2, "rate", "annual fraction"),
    ("F1,1000,0.05,0.4,24,a,0.05", 2, "id", "duplicates row 1"),
    ("F2,1000,0.05,,24,a,0.05", 2, "lgd", "empty"),
])
def test_bad_rows_name_row_and_field(tmp_path, row, row_no, field, fragment):
    with pytest.raises(PoolError) as err:
        read_pool_csv(write_csv(tmp_path, GOOD_ROW, row))
    assert err.value.row == row_no and err.value.field == field
    assert f"row {row_no}" in str(err.value) and repr(field) in str(err.value) and fragment in str(err.value)
    assert err.value.facility_id == row.split(",")[0]


def test_missing_column(tmp_path):
    with pytest.raises(PoolError, match="missing column 'lgd'") as err:
        read_pool_csv(write_csv(tmp_path, "F1,1000,0.05,24", header="id,balance,pd,maturity_months"))
    assert err.value.field == "lgd"
    with pytest.raises(PoolError, match="'pd' \\(or 'pd_annual'\\)"):
        read_pool_csv(write_csv(tmp_path, "F1,1000,0.4,24", header="id,balance,lgd,maturity_months"))


def test_unknown_amortisation_and_both_pds(tmp_path):
    header = "id,balance,pd,pd_annual,lgd,maturity_months,amortisation"
    with pytest.raises(PoolError, match="row 1 .*'amortisation' = 'balloon' unknown"):
        read_pool_csv(write_csv(tmp_path, "F1,10,0.1,,0.4,12,balloon", header=header))
    with pytest.raises(PoolError, match="both given"):
        read_pool_csv(write_csv(tmp_path, "F1,10,0.1,0.02,0.4,12,bullet", header=header))


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(PoolError, match="empty"):
        read_pool_csv(empty)
    with pytest.raises(PoolError, match="no facilities"):
        read_pool_csv(write_csv(tmp_path))
    with pytest.raises(PoolError, match="cannot read"):
        read_pool_csv(tmp_path / "nope.csv")


def test_annual_pd_converts_with_constant_hazard(tmp_path):
    header = "id,balance,pd_annual,lgd,maturity_months"
    pool = read_pool_csv(write_csv(tmp_path, "A,100,0.02,0.5,36", "B,100,0.02,0.5,120", header=header))
    pd = pool.horizon_pd(60)
    assert pd[0] == pytest.approx(1 - 0.98 ** 3)          # life 36 months inside a 60-month horizon
    assert pd[1] == pytest.approx(1 - 0.98 ** 5)          # capped at the horizon
    assert np.allclose(pool.with_horizon_pd(pd).annualised_pd(60), [0.02, 0.02])


def test_schedules():
    pool = Pool.from_arrays(ids=["b", "l", "a"], balance=[120.0, 120.0, 1000.0], pd=[0.1] * 3, lgd=[0.5] * 3,
                            maturity_months=[12, 12, 24], rate=[0.06, 0.06, 0.06],
                            amortisation=["bullet", "linear", "annuity"])
    table = scheduled_balance_table(pool, 30)
    assert np.all(table[0, :12] == 120.0) and np.all(table[0, 12:] == 0.0)
    assert np.allclose(table[1, :13], 120.0 - 10.0 * np.arange(13)) and np.all(table[1, 12:] == 0.0)
    # The annuity pays a level instalment: interest + principal constant.
    r = 0.06 / 12
    instalment = table[2, :24] * r + (table[2, :24] - table[2, 1:25])
    assert np.allclose(instalment, 1000 * r / (1 - (1 + r) ** -24), rtol=1e-12)
    assert table[2, 24] == 0.0


def test_stratification_and_concentration():
    pool = read_pool_csv(DATA / "pool.csv")
    table = stratify(pool, "sector", horizon_months=60)
    assert set(table) == {"stamping", "forging", "machining"}
    assert sum(row["balance"] for row in table.values()) == pytest.approx(pool.total_balance)
    assert sum(row["count"] for row in table.values()) == pool.size
    stamping = pool.sector == "stamping"
    expected_pd = (pool.balance[stamping] * pool.horizon_pd(60)[stamping]).sum() / pool.balance[stamping].sum()
    assert table["stamping"]["weighted_pd"] == pytest.approx(expected_pd)
    grades = stratify(pool, "pd_grade")
    assert all(key.startswith("grade ") for key in grades)
    buckets = stratify(pool, "maturity_bucket")
    assert list(buckets) == ["13-24", "25-36", "37-48", "49-60"]
    conc = top_obligor_concentration(pool, top_n=3)
    assert conc["largest_id"] == "F005" and conc["largest_share"] == pytest.approx(410_000 / 3_330_000)
    assert conc["top_n_share"] == pytest.approx((410_000 + 370_000 + 320_000) / 3_330_000)
    shares = pool.balance / pool.total_balance
    assert conc["effective_number_of_obligors"] == pytest.approx(1 / (shares ** 2).sum())
    with pytest.raises(ValueError, match="unknown"):
        stratify(pool, "colour")


def test_coupon_and_life():
    pool = Pool.from_arrays(ids=["a", "b"], balance=[100.0, 300.0], pd=[0.1, 0.1], lgd=[0.5, 0.5],
                            maturity_months=[24, 48], rate=[0.04, 0.08], amortisation=["bullet", "bullet"])
    assert weighted_average_coupon(pool) == pytest.approx(0.07)
    assert weighted_average_life_years(pool) == pytest.approx((100 * 2 + 300 * 4) / 400)
    # Prepayments shorten the life; a horizon before maturity counts the rest as repaid then.
    assert weighted_average_life_years(pool, cpr=0.2) < weighted_average_life_years(pool)
    assert weighted_average_life_years(pool, horizon_months=36) == pytest.approx((100 * 2 + 300 * 3) / 400)
    summary = pool_summary(pool)
    assert summary["count"] == 2 and summary["weighted_average_coupon"] == pytest.approx(0.07)
