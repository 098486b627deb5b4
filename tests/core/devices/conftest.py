"""Shared helpers for the devices core tests: the real-data folder and synthetic signals."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_data_path


def cwru_file(name: str) -> Path:
    """A CWRU file of ../shared/data (see tests.conftest.shared_data_path for when it is absent)."""
    return shared_data_path("cwru", name)


def vibration(n_samples: int = 4096, n_channels: int = 2, seed: int = 0, dtype=np.float64) -> np.ndarray:
    """Broadband noise plus a tone per channel: a healthy-looking acceleration signal in g."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(n_samples) / 12_000.0
    tones = np.stack([np.sin(2 * np.pi * (107.4 + 50 * channel) * time_s) for channel in range(n_channels)], axis=1)
    return (0.3 * rng.standard_normal((n_samples, n_channels)) + 0.5 * tones).astype(dtype)
