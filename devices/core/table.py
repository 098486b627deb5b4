"""``SignalTable``: what every reader returns."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["MAX_CHANNELS", "SignalTable"]

#: More columns than this means the file is almost certainly transposed (rows must be samples).
MAX_CHANNELS = 256


@dataclasses.dataclass(frozen=True, eq=False)
class SignalTable:
    """Samples of one or more channels.

    channel_names          one name per column (as in the file, or ``ch0``, ``ch1`` ... when the
                           file has none; then ``generated_names`` is True)
    samples                array of shape (n_samples, n_channels), native-endian float32 or float64,
                           in the signal's own units (e.g. g for acceleration); may be a read-only
                           memory map (.npy) - treat it as read-only
    sampling_rate_hint_hz  the sampling rate the file suggests (file name, time column, stored
                           attribute), or None; validation uses the declared rate, not this hint
    rpm                    shaft speed in rev/min when the file carries it (CWRU ``X<nnn>RPM``), or None
    source_format          'csv', 'npy', 'npz', 'mat' or 'parquet'
    metadata               further facts from the file (e.g. CWRU record, fault label, load)
    """

    channel_names: tuple[str, ...]
    samples: np.ndarray
    sampling_rate_hint_hz: float | None = None
    rpm: float | None = None
    source_format: str = ""
    generated_names: bool = False
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.samples.ndim != 2:
            raise ValueError(f"samples must be 2-D (n_samples, n_channels), got shape {self.samples.shape}")
        if self.samples.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"samples must be native float32 or float64, got {self.samples.dtype}")
        if self.samples.shape[1] != len(self.channel_names):
            raise ValueError(f"{len(self.channel_names)} channel names for {self.samples.shape[1]} columns")
        object.__setattr__(self, "channel_names", tuple(str(name) for name in self.channel_names))

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.samples.shape[1])

    def channel(self, name: str) -> np.ndarray:
        """The samples of channel ``name`` (1-D view). Raises KeyError for an unknown name."""
        try:
            index = self.channel_names.index(name)
        except ValueError:
            raise KeyError(name) from None
        return self.samples[:, index]
