"""Risk-based loan pricing.

rate = funding cost + PD LGD + K (hurdle return - risk-free return) + operating cost + margin

The expected-loss term PD LGD covers the average annual credit loss; K (hurdle - risk-free)
charges the excess return shareholders require on the capital K held per unit of exposure (the
capital itself is assumed invested at the risk-free rate). This is the RAROC/EVA-consistent
break-even pricing of e.g. Saita, "Value at Risk and Bank Capital Management", 2007, ch. 8, and
Bessis, "Risk Management in Banking", 4th ed. 2015, ch. on risk-based pricing; LENDING.md.

All rates are fractions per year (0.05 = 5 %); inputs broadcast as numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lending.core._numeric import scalar_or_array


@dataclass(frozen=True)
class RateBreakdown:
    """The components of a risk-based rate, each a fraction per year, and their sum ``rate``."""

    funding_cost: float
    expected_loss: float
    capital_charge: float
    operating_cost: float
    margin: float
    rate: float

    def as_dict(self) -> dict[str, float]:
        """The components as a plain JSON-able dict."""
        return {
            "funding_cost": self.funding_cost,
            "expected_loss": self.expected_loss,
            "capital_charge": self.capital_charge,
            "operating_cost": self.operating_cost,
            "margin": self.margin,
            "rate": self.rate,
        }


def risk_based_rate(
    pd, lgd, k, funding_cost, hurdle_return, risk_free_return, operating_cost, margin
) -> float | np.ndarray:
    """Annual risk-based loan rate (fraction per year).

    Inputs: ``pd`` one-year PD and ``lgd`` (fractions); ``k`` IRB capital per unit of exposure
    (fraction, from ``lending.core.capital.irb_capital``); ``funding_cost``, ``hurdle_return``
    (required return on equity), ``risk_free_return``, ``operating_cost`` (per unit of exposure)
    and ``margin`` as fractions per year.
    Output: funding + PD LGD + K (hurdle - risk-free) + operating cost + margin.
    """
    return scalar_or_array(
        np.asarray(funding_cost, dtype=float)
        + np.asarray(pd, dtype=float) * np.asarray(lgd, dtype=float)
        + np.asarray(k, dtype=float)
        * (np.asarray(hurdle_return, dtype=float) - np.asarray(risk_free_return, dtype=float))
        + np.asarray(operating_cost, dtype=float)
        + np.asarray(margin, dtype=float)
    )


def risk_based_rate_breakdown(
    pd: float,
    lgd: float,
    k: float,
    funding_cost: float,
    hurdle_return: float,
    risk_free_return: float,
    operating_cost: float,
    margin: float,
) -> RateBreakdown:
    """The same rate as ``risk_based_rate`` with each component reported, for display."""
    expected_loss = pd * lgd
    capital_charge = k * (hurdle_return - risk_free_return)
    return RateBreakdown(
        funding_cost=float(funding_cost),
        expected_loss=float(expected_loss),
        capital_charge=float(capital_charge),
        operating_cost=float(operating_cost),
        margin=float(margin),
        rate=float(funding_cost + expected_loss + capital_charge + operating_cost + margin),
    )


def risk_adjusted_return(
    rate, pd, lgd, k, exposure, funding_cost, hurdle_return, risk_free_return, operating_cost
) -> float | np.ndarray:
    """Economic profit per year of an exposure: exposure x (rate - break-even risk-based rate).

    = exposure [rate - funding - PD LGD - opex - K (hurdle - risk-free)], in currency units per
    year; positive when the loan earns more than its cost of funds, expected loss, operating cost
    and the hurdle return on its capital (EVA / shareholder value added, Saita 2007 ch. 8).
    Inputs broadcast; rates are fractions per year, exposure in currency units.
    """
    break_even = np.asarray(
        risk_based_rate(pd, lgd, k, funding_cost, hurdle_return, risk_free_return, operating_cost, 0.0)
    )
    return scalar_or_array(np.asarray(exposure, dtype=float) * (np.asarray(rate, dtype=float) - break_even))


def raroc(rate, pd, lgd, k, funding_cost, risk_free_return, operating_cost) -> float | np.ndarray:
    """Risk-adjusted return on capital, a fraction per year.

    RAROC = (rate - funding - PD LGD - opex + K risk-free) / K: net risk-adjusted income plus the
    risk-free return on the capital held, over the capital K (per unit of exposure). Compare with
    the hurdle return; RAROC >= hurdle exactly when ``risk_adjusted_return`` >= 0.
    """
    k = np.asarray(k, dtype=float)
    income = (
        np.asarray(rate, dtype=float)
        - np.asarray(funding_cost, dtype=float)
        - np.asarray(pd, dtype=float) * np.asarray(lgd, dtype=float)
        - np.asarray(operating_cost, dtype=float)
        + k * np.asarray(risk_free_return, dtype=float)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return scalar_or_array(np.where(k > 0, income / np.where(k > 0, k, 1.0), np.inf))
