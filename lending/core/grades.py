"""Rating master scale: PD bands that define borrower grades.

A master scale maps a one-year PD to a grade 1 (best) .. n (worst). Grade g covers the PD
interval (upper[g-2], upper[g-1]] with upper[-1] = 0 for grade 1, so a PD equal to a band's
upper bound belongs to that band. The bands are a lender's policy choice; the default below is an
illustrative 10-grade scale, roughly geometric like most bank master scales (cf. BCBS WP14,
"Studies on the Validation of Internal Rating Systems", 2005, section on master scales).
"""

from __future__ import annotations

import numpy as np

DEFAULT_GRADE_UPPER_PD = (0.0010, 0.0025, 0.0050, 0.0100, 0.0200, 0.0400, 0.0800, 0.1500, 0.3000, 1.0)
"""Upper PD bound (fraction) of grades 1..10; illustrative, replace with the lender's scale."""


def validated_grade_bands(grade_upper_pd=DEFAULT_GRADE_UPPER_PD) -> np.ndarray:
    """Return the upper bounds as an array after checking they increase strictly and end at 1."""
    bounds = np.asarray(grade_upper_pd, dtype=float)
    if bounds.ndim != 1 or bounds.size < 2:
        raise ValueError("grade bands need at least two upper PD bounds")
    if np.any(np.diff(bounds) <= 0) or bounds[0] <= 0 or bounds[-1] != 1.0:
        raise ValueError("grade upper PD bounds must increase strictly from above 0 and end at 1.0")
    return bounds


def pd_to_grade(pd, grade_upper_pd=DEFAULT_GRADE_UPPER_PD) -> int | np.ndarray:
    """Grade (1 = best) of each PD (fraction in [0, 1]); int for scalar input, int array otherwise."""
    bounds = validated_grade_bands(grade_upper_pd)
    pd_array = np.asarray(pd, dtype=float)
    if np.any(np.isnan(pd_array)) or np.any(pd_array < 0) or np.any(pd_array > 1):
        raise ValueError("pd must lie in [0, 1]")
    grades = np.searchsorted(bounds, pd_array, side="left") + 1
    if grades.ndim == 0:
        return int(grades)
    return grades


def grade_pd_interval(grade: int, grade_upper_pd=DEFAULT_GRADE_UPPER_PD) -> tuple[float, float]:
    """(exclusive lower, inclusive upper) PD bounds of ``grade`` (1-based)."""
    bounds = validated_grade_bands(grade_upper_pd)
    if not 1 <= grade <= bounds.size:
        raise ValueError(f"grade must be in 1..{bounds.size}")
    lower = 0.0 if grade == 1 else float(bounds[grade - 2])
    return lower, float(bounds[grade - 1])
