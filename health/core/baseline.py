"""Per-press, per-operating-condition healthy baseline and the health index.

HEALTH.md: real healthy machines are not Gaussian (the healthy CWRU record has a squared-envelope
kurtosis of 1.85, not 2), so every indicator is normalised against the press's own healthy history
for the current operating condition: ``z = (value - median) / spread`` with
``spread = max(1.4826 MAD, floor)`` (1.4826 MAD estimates a standard deviation robustly,
Rousseeuw & Croux, JASA 1993; the floor keeps a very steady baseline from turning tiny wobbles
into alarms). The health index is the weighted sum of the z-scores with the press's weights; the
baseline also keeps the distribution of the index over its own windows so a new index value can
be expressed as a z-score (``index_z``) for the thresholds. The index spread is the larger of the
symmetric MAD and the MAD above the median (the upper half of a "double MAD"): indices built from
kurtosis-like indicators are skewed to the right, and the upper side is the one alarms look at.

A :class:`HealthyBaseline` is plain data: ``to_dict`` / ``from_dict`` give a JSON-able form the
portal stores per press and operating condition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .indicators import INDICATOR_NAMES

INDEX_INDICATOR_NAMES: tuple[str, ...] = tuple(
    f"{form}_{name}" for form in ("time", "cyclic") for name in INDICATOR_NAMES
)
# Expert default: every indicator, time and cyclic, counts equally.
DEFAULT_INDEX_WEIGHTS = np.full(len(INDEX_INDICATOR_NAMES), 1.0 / len(INDEX_INDICATOR_NAMES))
MIN_BASELINE_WINDOWS = 5
RELATIVE_SPREAD_FLOOR = 0.02
ABSOLUTE_SPREAD_FLOOR = 1e-6
INDEX_SPREAD_FLOOR = 0.1


def robust_location_spread(
    values: np.ndarray,
    *,
    relative_floor: float = RELATIVE_SPREAD_FLOOR,
    absolute_floor: float = ABSOLUTE_SPREAD_FLOOR,
) -> tuple[np.ndarray, np.ndarray]:
    """Median and floored robust spread of each column.

    Input: (n_windows, n_features). Outputs: ``(median, spread)`` each (n_features,) in the
    features' units; ``spread = max(1.4826 * MAD, relative_floor * |median|, absolute_floor)``.
    Method: median / normalised MAD (Rousseeuw & Croux, JASA 1993).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, np.newaxis]
    median = np.median(values, axis=0)
    mad = np.median(np.abs(values - median), axis=0)
    spread = np.maximum(1.4826 * mad, np.maximum(relative_floor * np.abs(median), absolute_floor))
    return median, spread


@dataclass
class HealthyBaseline:
    """Robust statistics of healthy indicator values for one press and operating condition.

    ``indicator_names`` (default :data:`INDEX_INDICATOR_NAMES`); ``median`` and ``spread`` per
    indicator; ``weights`` per indicator for the health index; ``index_median`` and
    ``index_spread`` (1.4826 x the larger of the symmetric and the upper-side MAD) of the index over
    the baseline windows; ``n_windows``; the window settings
    the values were computed with (``window_size`` samples at ``sampling_rate_hz``, cyclic range
    ``alpha_min_hz``..``alpha_max_hz``) so later windows are computed the same way.
    """

    indicator_names: tuple[str, ...]
    median: np.ndarray
    spread: np.ndarray
    weights: np.ndarray
    index_median: float
    index_spread: float
    n_windows: int
    window_size: int
    sampling_rate_hz: float
    alpha_min_hz: float
    alpha_max_hz: float

    def z_scores(self, values: np.ndarray) -> np.ndarray:
        """``(values - median) / spread`` per indicator; input (..., n_indicators), output same shape."""
        return (np.asarray(values, dtype=np.float64) - self.median) / self.spread

    def health_index(self, values: np.ndarray) -> np.ndarray:
        """Weighted sum of the z-scores: input (..., n_indicators), output (...,) (dimensionless)."""
        return self.z_scores(values) @ self.weights

    def index_z(self, health_index) -> np.ndarray:
        """A health index expressed against the baseline's own index distribution (z units)."""
        return (np.asarray(health_index, dtype=np.float64) - self.index_median) / self.index_spread

    def to_dict(self) -> dict:
        """JSON-able form (lists and floats) for the portal to persist."""
        return {
            "indicator_names": list(self.indicator_names),
            "median": self.median.tolist(),
            "spread": self.spread.tolist(),
            "weights": self.weights.tolist(),
            "index_median": self.index_median,
            "index_spread": self.index_spread,
            "n_windows": self.n_windows,
            "window_size": self.window_size,
            "sampling_rate_hz": self.sampling_rate_hz,
            "alpha_min_hz": self.alpha_min_hz,
            "alpha_max_hz": self.alpha_max_hz,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "HealthyBaseline":
        """Rebuild a baseline saved with :meth:`to_dict`."""
        return cls(
            indicator_names=tuple(data["indicator_names"]),
            median=np.asarray(data["median"], dtype=np.float64),
            spread=np.asarray(data["spread"], dtype=np.float64),
            weights=np.asarray(data["weights"], dtype=np.float64),
            index_median=float(data["index_median"]),
            index_spread=float(data["index_spread"]),
            n_windows=int(data["n_windows"]),
            window_size=int(data["window_size"]),
            sampling_rate_hz=float(data["sampling_rate_hz"]),
            alpha_min_hz=float(data["alpha_min_hz"]),
            alpha_max_hz=float(data["alpha_max_hz"]),
        )


def fit_healthy_baseline(
    indicator_values: np.ndarray,
    *,
    window_size: int,
    sampling_rate_hz: float,
    alpha_min_hz: float,
    alpha_max_hz: float,
    weights: np.ndarray | None = None,
    indicator_names: tuple[str, ...] = INDEX_INDICATOR_NAMES,
    relative_floor: float = RELATIVE_SPREAD_FLOOR,
    index_spread_floor: float = INDEX_SPREAD_FLOOR,
) -> HealthyBaseline:
    """Learn a :class:`HealthyBaseline` from indicator values of healthy windows.

    Inputs: ``indicator_values`` (n_windows, n_indicators) with n_windows >= MIN_BASELINE_WINDOWS,
    computed on windows of ``window_size`` samples at ``sampling_rate_hz`` over the cyclic range
    given; ``weights`` per indicator (default: equal, :data:`DEFAULT_INDEX_WEIGHTS`); the spread
    floors. Output: the baseline, including the index distribution over the same windows.
    Raises ValueError with too few windows, a shape mismatch or non-finite values.
    Method: robust z-scores against a healthy history (HEALTH.md; Rousseeuw & Croux 1993).
    """
    values = np.asarray(indicator_values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(indicator_names):
        raise ValueError(f"indicator values must be (n_windows, {len(indicator_names)}), got {values.shape}")
    if values.shape[0] < MIN_BASELINE_WINDOWS:
        raise ValueError(f"a healthy baseline needs at least {MIN_BASELINE_WINDOWS} windows, got {values.shape[0]}")
    if not np.isfinite(values).all():
        raise ValueError("healthy indicator values contain NaN or infinite values")
    weights = DEFAULT_INDEX_WEIGHTS.copy() if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(indicator_names),):
        raise ValueError(f"weights must have {len(indicator_names)} entries, got shape {weights.shape}")
    median, spread = robust_location_spread(values, relative_floor=relative_floor)
    index_values = ((values - median) / spread) @ weights
    index_median = float(np.median(index_values))
    symmetric_mad = float(np.median(np.abs(index_values - index_median)))
    above = index_values[index_values > index_median] - index_median
    upper_mad = float(np.median(above)) if above.size else symmetric_mad
    # the larger of the two: the upper side for skewed indices, the symmetric MAD when only a few
    # windows sit above the median and their spread is a poor estimate
    index_spread = max(1.4826 * max(upper_mad, symmetric_mad), index_spread_floor)
    return HealthyBaseline(
        indicator_names=tuple(indicator_names),
        median=median,
        spread=spread,
        weights=weights,
        index_median=index_median,
        index_spread=index_spread,
        n_windows=int(values.shape[0]),
        window_size=int(window_size),
        sampling_rate_hz=float(sampling_rate_hz),
        alpha_min_hz=float(alpha_min_hz),
        alpha_max_hz=float(alpha_max_hz),
    )
