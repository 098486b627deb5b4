"""Operating conditions: a press's baselines are kept per stroke-rate band and load band (HEALTH.md:
"keep baselines per operating condition"), and per sampling rate, since a baseline's windows are only
comparable at the rate they were learned at."""
from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Condition:
    key: str
    sampling_rate_hz: float
    stroke_rate_band: tuple[float, float] | None
    load_band: tuple[float, float] | None


def _band(value: float | None, width: float) -> tuple[float, float] | None:
    if value is None:
        return None
    low = math.floor(value / width) * width
    return (low, low + width)


def operating_condition(*, sampling_rate_hz: float, stroke_rate_spm: float | None, load_percent: float | None,
                        stroke_band_spm: float, load_band_percent: float) -> Condition:
    """The condition a batch ran in: e.g. 20 kHz, 20-30 strokes/min, 50-75 % load (unknown parts: any)."""
    stroke = _band(stroke_rate_spm, stroke_band_spm)
    load = _band(load_percent, load_band_percent)
    parts = [f"fs={sampling_rate_hz:g}",
             f"spm={stroke[0]:g}-{stroke[1]:g}" if stroke else "spm=any",
             f"load={load[0]:g}-{load[1]:g}" if load else "load=any"]
    return Condition(key="|".join(parts), sampling_rate_hz=float(sampling_rate_hz), stroke_rate_band=stroke,
                     load_band=load)


def condition_label(*, sampling_rate_hz: float, stroke_rate_low_spm, stroke_rate_high_spm, load_low_percent,
                    load_high_percent) -> str:
    """For people: "20000 Hz · 20–30 strokes/min · 50–75 % load"."""
    stroke = (_("%(low)g–%(high)g strokes/min") % {"low": stroke_rate_low_spm, "high": stroke_rate_high_spm}
              if stroke_rate_low_spm is not None else _("any stroke rate"))
    load = (_("%(low)g–%(high)g %% load") % {"low": load_low_percent, "high": load_high_percent}
            if load_low_percent is not None else _("any load"))
    return f"{sampling_rate_hz:g} Hz · {stroke} · {load}"
