"""Shared helpers for the health-core tests (no database, no Django)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED_DATA, shared_data_path

REPO_ROOT = Path(__file__).resolve().parents[3]
CWRU_DIR = SHARED_DATA / "cwru"
EXCERPT_DIR = REPO_ROOT / "tests" / "data" / "cwru_excerpt"
CWRU_RATE_HZ = 12000.0


@functools.lru_cache(maxsize=None)
def load_cwru(file_name: str) -> tuple[np.ndarray, float, float]:
    """Drive-end signal at 12 kHz, shaft frequency (Hz) and rate of one CWRU file.

    The 48 kHz healthy record is decimated by 4 (FIR) to 12 kHz, as the data README prescribes.
    """
    import scipy.io
    import scipy.signal

    contents = scipy.io.loadmat(str(CWRU_DIR / file_name))
    signal_key = next(key for key in contents if key.endswith("_DE_time"))
    rpm_key = next(key for key in contents if key.endswith("RPM"))
    signal = contents[signal_key].reshape(-1).astype(np.float64)
    rpm = float(np.asarray(contents[rpm_key]).reshape(-1)[0])
    if file_name.startswith("48k") or file_name.startswith("normal"):
        signal = scipy.signal.decimate(signal, 4, ftype="fir")
    return signal, rpm / 60.0, CWRU_RATE_HZ


@pytest.fixture(scope="session")
def cwru():
    """The CWRU loader (see tests.conftest.shared_data_path for when ../shared/data is absent)."""
    shared_data_path("cwru")
    return load_cwru
