"""Basel IRB capital: hand-computed examples and the published Basel II Annex 5 risk weights."""

import math

import numpy as np
import pytest

from lending.core.capital import (
    amortising_effective_maturity_years,
    asset_correlation,
    irb_capital,
    maturity_adjustment,
    risk_weight,
    risk_weighted_assets,
)

# Standard normal quantiles, as tabulated: G(0.01) and G(0.999).
NORMAL_QUANTILE_0_01 = -2.3263478740408408
NORMAL_QUANTILE_0_999 = 3.090232306167813


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_hand_computed_capital_pd_one_percent_lgd_45_maturity_2_5():
    pd, lgd = 0.01, 0.45
    weight = (1 - math.exp(-50 * pd)) / (1 - math.exp(-50))  # 0.393469...
    correlation = 0.12 * weight + 0.24 * (1 - weight)  # 0.192784...
    slope = (0.11852 - 0.05478 * math.log(pd)) ** 2  # 0.137486...
    conditional_pd = normal_cdf(
        NORMAL_QUANTILE_0_01 / math.sqrt(1 - correlation)
        + math.sqrt(correlation / (1 - correlation)) * NORMAL_QUANTILE_0_999
    )
    expected_k = (lgd * conditional_pd - pd * lgd) * (1 + (2.5 - 2.5) * slope) / (1 - 1.5 * slope)

    assert asset_correlation(pd) == pytest.approx(correlation, rel=1e-12)
    assert maturity_adjustment(pd) == pytest.approx(slope, rel=1e-12)
    assert irb_capital(pd, lgd, 2.5) == pytest.approx(expected_k, rel=1e-9)
    assert expected_k == pytest.approx(0.073853, abs=1e-6)
    # Basel II (June 2006) Annex 5: PD 1.00 %, LGD 45 %, M 2.5 -> risk weight 92.32 %.
    assert risk_weight(irb_capital(pd, lgd)) == pytest.approx(0.9232, abs=5e-5)


def test_hand_computed_capital_with_maturity_adjustment_and_sme_sales():
    pd, lgd, maturity, sales = 0.02, 0.40, 4.0, 20.0
    weight = (1 - math.exp(-50 * pd)) / (1 - math.exp(-50))
    correlation = 0.12 * weight + 0.24 * (1 - weight) - 0.04 * (1 - (sales - 5) / 45)
    slope = (0.11852 - 0.05478 * math.log(pd)) ** 2
    normal_quantile_0_02 = -2.053748910631823
    conditional_pd = normal_cdf(
        normal_quantile_0_02 / math.sqrt(1 - correlation)
        + math.sqrt(correlation / (1 - correlation)) * NORMAL_QUANTILE_0_999
    )
    expected_k = (lgd * conditional_pd - pd * lgd) * (1 + (maturity - 2.5) * slope) / (1 - 1.5 * slope)
    assert irb_capital(pd, lgd, maturity, sales_eur_m=sales) == pytest.approx(expected_k, rel=1e-9)


@pytest.mark.parametrize(
    ("pd", "risk_weight_turnover_50", "risk_weight_turnover_5"),
    [
        # Basel II (June 2006) Annex 5, corporate exposures, LGD 45 %, M 2.5 years.
        (0.0003, 0.1444, 0.1130),
        (0.0010, 0.2965, 0.2330),
        (0.0100, 0.9232, 0.7240),
        (0.0200, 1.1486, 0.8855),
        (0.0250, 1.2216, 0.9343),
    ],
)
def test_matches_basel_annex_5_illustrative_risk_weights(pd, risk_weight_turnover_50, risk_weight_turnover_5):
    assert risk_weight(irb_capital(pd, 0.45, 2.5, sales_eur_m=50.0)) == pytest.approx(
        risk_weight_turnover_50, abs=6e-5
    )
    assert risk_weight(irb_capital(pd, 0.45, 2.5, sales_eur_m=5.0)) == pytest.approx(
        risk_weight_turnover_5, abs=6e-5
    )


def test_pd_floor_sales_clamp_and_maturity_clamp():
    assert irb_capital(0.0, 0.45) == irb_capital(0.0003, 0.45)
    assert asset_correlation(0.01, sales_eur_m=1.0) == asset_correlation(0.01, sales_eur_m=5.0)
    assert asset_correlation(0.01, sales_eur_m=80.0) == asset_correlation(0.01)
    assert irb_capital(0.01, 0.45, maturity_years=0.25) == irb_capital(0.01, 0.45, maturity_years=1.0)
    assert irb_capital(0.01, 0.45, maturity_years=9.0) == irb_capital(0.01, 0.45, maturity_years=5.0)
    assert irb_capital(1.0, 0.45) == 0.0


def test_vectorised_matches_scalar_calls_and_nan_sales_means_no_adjustment():
    pds = np.array([0.001, 0.01, 0.05, 0.2])
    sales = np.array([np.nan, 5.0, 27.5, np.nan])
    vector = irb_capital(pds, 0.45, np.array([1.0, 2.5, 3.0, 5.0]), sales_eur_m=sales)
    assert isinstance(vector, np.ndarray)
    expected = [
        irb_capital(0.001, 0.45, 1.0),
        irb_capital(0.01, 0.45, 2.5, 5.0),
        irb_capital(0.05, 0.45, 3.0, 27.5),
        irb_capital(0.2, 0.45, 5.0),
    ]
    np.testing.assert_allclose(vector, expected, rtol=1e-12)
    assert isinstance(irb_capital(0.01, 0.45), float)


def test_capital_increases_with_pd_lgd_and_maturity():
    pds = np.linspace(0.0005, 0.2, 50)
    assert np.all(np.diff(irb_capital(pds, 0.45)) > 0)
    assert irb_capital(0.01, 0.6) > irb_capital(0.01, 0.3)
    assert irb_capital(0.01, 0.45, 4.0) > irb_capital(0.01, 0.45, 2.0)


def test_risk_weighted_assets_and_effective_maturity():
    assert risk_weighted_assets(0.08, 1_000_000.0) == pytest.approx(1_000_000.0)
    np.testing.assert_allclose(risk_weighted_assets(np.array([0.04, 0.08]), 500.0), [250.0, 500.0])
    # 60 equal monthly instalments: M = sum(k/12)/60 = 61/24 years.
    assert amortising_effective_maturity_years(60) == pytest.approx(61 / 24)


@pytest.mark.parametrize(
    ("pd", "lgd"), [(-0.01, 0.45), (1.2, 0.45), (0.01, 1.5), (0.01, -0.1), (float("nan"), 0.4)]
)
def test_rejects_out_of_range_inputs(pd, lgd):
    with pytest.raises(ValueError):
        irb_capital(pd, lgd)


def test_rejects_negative_ead():
    with pytest.raises(ValueError, match="ead"):
        risk_weighted_assets(0.08, -1.0)
