"""Downsampling of chart series so a year of batches stays a few thousand points.

Min/max bucketing: the series is cut into ``max_points / 2`` buckets of equal count and each bucket
keeps its lowest and its highest point, in time order. Unlike plain decimation it never drops a spike,
which is what a health chart is read for (an alarm must stay visible however far one zooms out).
"""
from __future__ import annotations

import numpy as np


def minmax_indices(values, max_points: int) -> np.ndarray:
    """Indices (ascending) of the points to keep from ``values`` (1-D; NaN allowed, kept where a bucket
    has nothing else), at most ``max_points`` (>= 2) of them."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    if n <= max_points:
        return np.arange(n)
    n_buckets = max_points // 2
    edges = np.linspace(0, n, n_buckets + 1).astype(int)
    starts, stops = edges[:-1], edges[1:]
    lengths = stops - starts
    width = int(lengths.max())
    # a (buckets x width) view padded with NaN, so argmin/argmax run over all buckets at once
    index = starts[:, np.newaxis] + np.arange(width)
    valid = np.arange(width) < lengths[:, np.newaxis]
    grid = np.where(valid, values[np.minimum(index, n - 1)], np.nan)
    low = np.where(np.isnan(grid), np.inf, grid).argmin(axis=1)
    high = np.where(np.isnan(grid), -np.inf, grid).argmax(axis=1)
    keep = np.unique(np.concatenate([starts + low, starts + high]))
    return keep
