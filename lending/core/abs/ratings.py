"""Illustrative rating bands for tranches, and PD grade shifts on the lending master scale.

NOTHING HERE IS AN AGENCY CRITERION. The thresholds below are round, monotone numbers chosen so that the
portal can label a tranche with a familiar band and size tranches "to a band"; they are loosely shaped
like published idealised loss tables (e.g. Moody's idealised expected-loss table, S&P's idealised default
rates) over a horizon of about five years, but they are not taken from any of them. Every output that
uses them carries ``ILLUSTRATIVE_LABEL``.
"""

from __future__ import annotations

import numpy as np

from lending.core.grades import DEFAULT_GRADE_UPPER_PD, pd_to_grade

ILLUSTRATIVE_LABEL = "illustrative rating table (not an agency criterion)"

#: Rating bands, best first: the largest probability of loss and expected loss (both fractions of the
#: tranche, over the deal horizon) a tranche may have to be placed in the band.
ILLUSTRATIVE_RATING_TABLE: tuple[dict, ...] = (
    {"band": "AAA", "max_probability_of_loss": 0.001, "max_expected_loss": 0.0001},
    {"band": "AA", "max_probability_of_loss": 0.004, "max_expected_loss": 0.0005},
    {"band": "A", "max_probability_of_loss": 0.010, "max_expected_loss": 0.0015},
    {"band": "BBB", "max_probability_of_loss": 0.030, "max_expected_loss": 0.0060},
    {"band": "BB", "max_probability_of_loss": 0.100, "max_expected_loss": 0.0300},
    {"band": "B", "max_probability_of_loss": 0.250, "max_expected_loss": 0.1000},
)
BELOW_TABLE_BAND = "CCC or below"

_METRIC_KEYS = {"probability_of_loss": "max_probability_of_loss", "expected_loss": "max_expected_loss"}


def rating_table() -> dict:
    """The illustrative rating table as plain data: ``{"label", "bands": [...], "below_table"}``."""
    return {"label": ILLUSTRATIVE_LABEL, "bands": [dict(row) for row in ILLUSTRATIVE_RATING_TABLE],
            "below_table": BELOW_TABLE_BAND}


def band_target(band: str, metric: str = "probability_of_loss") -> float:
    """Largest ``metric`` value (fraction of tranche) allowed for ``band`` in the illustrative table.

    Raises ``ValueError`` for an unknown band or metric.
    """
    key = _metric_key(metric)
    for row in ILLUSTRATIVE_RATING_TABLE:
        if row["band"] == band:
            return float(row[key])
    known = ", ".join(row["band"] for row in ILLUSTRATIVE_RATING_TABLE)
    raise ValueError(f"rating band {band!r} unknown; the illustrative table has {known}")


def implied_rating(*, expected_loss: float, probability_of_loss: float) -> str:
    """Best illustrative band whose expected-loss AND probability-of-loss limits the tranche meets.

    Inputs are fractions of the tranche over the deal horizon. Returns the band name, or
    ``BELOW_TABLE_BAND`` when even the last band's limits are exceeded.
    """
    for row in ILLUSTRATIVE_RATING_TABLE:
        if expected_loss <= row["max_expected_loss"] and probability_of_loss <= row["max_probability_of_loss"]:
            return row["band"]
    return BELOW_TABLE_BAND


def shift_annual_pd_by_grades(annual_pd: np.ndarray, grades: np.ndarray | int,
                              cap: float = 0.999) -> np.ndarray:
    """Move each annual PD by ``grades`` notches on the lending master scale (positive = worse).

    Uses ``lending.core.grades`` (its default, illustrative 10-grade scale): the PD is multiplied by the
    ratio of the upper PD bounds of the new and the current grade, so its position within the band is
    roughly kept; grades beyond the scale are clamped to its ends; the result is capped at ``cap``.
    Inputs and outputs are annual probabilities.
    """
    upper = np.asarray(DEFAULT_GRADE_UPPER_PD, dtype=float)
    pd = np.asarray(annual_pd, dtype=float)
    current = np.asarray(pd_to_grade(pd))
    target = np.clip(current + np.asarray(grades, dtype=int), 1, upper.size)
    return np.minimum(pd * upper[target - 1] / upper[current - 1], cap)


def _metric_key(metric: str) -> str:
    """Column of the rating table for ``metric``; ``ValueError`` if unknown."""
    try:
        return _METRIC_KEYS[metric]
    except KeyError:
        raise ValueError(f"metric {metric!r} unknown; expected 'probability_of_loss' or 'expected_loss'") from None
