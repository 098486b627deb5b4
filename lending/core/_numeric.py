"""Small array helpers shared by the lending core (no Django, numpy only)."""

from __future__ import annotations

import numpy as np


def scalar_or_array(values: np.ndarray) -> float | np.ndarray:
    """Return a Python float for a 0-d result and the array itself otherwise.

    The lending core accepts scalars or numpy arrays; callers that pass scalars get
    plain floats back so that the portal can convert them to ``Decimal`` directly.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 0:
        return float(values)
    return values


def require_in_range(
    name: str, values, lower: float, upper: float, *, lower_open: bool = False
) -> np.ndarray:
    """Return ``values`` as a float array after checking ``lower <= values <= upper``.

    Raises ``ValueError`` naming the argument when a value is NaN or out of range.
    """
    array = np.asarray(values, dtype=float)
    if np.any(np.isnan(array)):
        raise ValueError(f"{name} contains NaN")
    below = array <= lower if lower_open else array < lower
    if np.any(below) or np.any(array > upper):
        bracket = "(" if lower_open else "["
        raise ValueError(f"{name} must lie in {bracket}{lower}, {upper}], got {array.min()}..{array.max()}")
    return array
