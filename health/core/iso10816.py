"""ISO 10816-3 (now ISO 20816-3) vibration severity zones from broadband RMS velocity.

ISO 10816-3:2009, Annex A: industrial machines above 15 kW, measured on bearing housings, broadband
RMS velocity over 10-1000 Hz (machines running above 600 rpm). Zone boundaries in mm/s RMS:

=======  ==========  =====  =====  =====
group    foundation  A/B    B/C    C/D
=======  ==========  =====  =====  =====
group1   rigid       2.3    4.5    7.1
group1   flexible    3.5    7.1    11.0
group2   rigid       1.4    2.8    4.5
group2   flexible    2.3    4.5    7.1
=======  ==========  =====  =====  =====

Group 1: large machines, 300 kW to 50 MW (and electrical machines with shaft height >= 315 mm).
Group 2: medium machines, 15 kW to 300 kW (shaft height 160-315 mm); most press main motors and
flywheel drives. Zone A: newly commissioned; B: unrestricted long-term operation; C: restricted
operation, plan maintenance; D: vibration severe enough to cause damage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sp_fft

from .thresholds import ALARM, DANGER, NORMAL

ISO_10816_3_ZONE_LIMITS_MM_S: dict[tuple[str, str], tuple[float, float, float]] = {
    ("group1", "rigid"): (2.3, 4.5, 7.1),
    ("group1", "flexible"): (3.5, 7.1, 11.0),
    ("group2", "rigid"): (1.4, 2.8, 4.5),
    ("group2", "flexible"): (2.3, 4.5, 7.1),
}
ZONE_DESCRIPTIONS = {
    "A": "newly commissioned condition",
    "B": "acceptable for unrestricted long-term operation",
    "C": "restricted operation only; plan corrective maintenance",
    "D": "severe enough to cause damage",
}
# Zones A and B are normal operation; C is an Alarm (restricted operation); D is Danger.
ZONE_LEVELS = {"A": NORMAL, "B": NORMAL, "C": ALARM, "D": DANGER}
ISO_BAND_HZ = (10.0, 1000.0)


def band_rms(x: np.ndarray, sampling_rate_hz: float, low_hz: float, high_hz: float) -> float:
    """RMS of ``x`` restricted to [low_hz, high_hz] (Parseval on the real FFT; unit of ``x``)."""
    x = np.asarray(x, dtype=np.float64)
    n_samples = x.size
    spectrum = sp_fft.rfft(x - x.mean())
    frequency_hz = sp_fft.rfftfreq(n_samples, 1.0 / sampling_rate_hz)
    power = np.abs(spectrum) ** 2
    power[1:] *= 2.0
    if n_samples % 2 == 0:
        power[-1] /= 2.0
    in_band = (frequency_hz >= low_hz) & (frequency_hz <= high_hz)
    return float(np.sqrt(power[in_band].sum()) / n_samples)


def velocity_rms_mm_s(velocity_mm_s: np.ndarray, sampling_rate_hz: float) -> float:
    """Broadband RMS velocity over 10-1000 Hz (ISO 10816-3) of a velocity signal in mm/s."""
    return band_rms(velocity_mm_s, sampling_rate_hz, *ISO_BAND_HZ)


def acceleration_to_velocity_rms_mm_s(acceleration_m_s2: np.ndarray, sampling_rate_hz: float) -> float:
    """RMS velocity (mm/s) over 10-1000 Hz from an acceleration signal in m/s^2.

    Integrates in the frequency domain (divide each bin by j 2 pi f) over the ISO band only, which
    avoids the drift of time-domain integration. Multiply g by 9.80665 before calling.
    """
    x = np.asarray(acceleration_m_s2, dtype=np.float64)
    n_samples = x.size
    spectrum = sp_fft.rfft(x - x.mean())
    frequency_hz = sp_fft.rfftfreq(n_samples, 1.0 / sampling_rate_hz)
    in_band = (frequency_hz >= ISO_BAND_HZ[0]) & (frequency_hz <= ISO_BAND_HZ[1])
    velocity_spectrum = np.zeros_like(spectrum)
    velocity_spectrum[in_band] = spectrum[in_band] / (2j * np.pi * frequency_hz[in_band]) * 1000.0
    velocity_mm_s = sp_fft.irfft(velocity_spectrum, n=n_samples)
    return float(np.sqrt(np.mean(velocity_mm_s**2)))


@dataclass(frozen=True)
class IsoZone:
    """An ISO 10816-3 assessment: ``zone`` A-D, the ``velocity_rms_mm_s`` it is based on, the
    machine ``group`` and ``foundation``, the ``limits_mm_s`` (A/B, B/C, C/D), the health
    ``level`` it maps to (A, B Normal; C Alarm; D Danger) and a short ``description``."""

    zone: str
    velocity_rms_mm_s: float
    group: str
    foundation: str
    limits_mm_s: tuple[float, float, float]
    level: int
    description: str

    def to_dict(self) -> dict:
        """JSON-able assessment."""
        return {
            "zone": self.zone,
            "velocity_rms_mm_s": self.velocity_rms_mm_s,
            "group": self.group,
            "foundation": self.foundation,
            "limits_mm_s": list(self.limits_mm_s),
            "level": self.level,
            "description": self.description,
        }


def iso10816_zone(velocity_rms: float, *, group: str = "group2", foundation: str = "rigid") -> IsoZone:
    """ISO 10816-3 zone of a broadband RMS velocity (mm/s, 10-1000 Hz).

    Inputs: the RMS velocity; machine ``group`` (``group1`` or ``group2``) and ``foundation``
    (``rigid`` or ``flexible``). Output: :class:`IsoZone`. A value exactly on a boundary belongs to
    the upper zone. Raises ValueError for an unknown group/foundation or a negative velocity.
    Method: ISO 10816-3:2009 Annex A (ISO 20816-3:2022 keeps the same values).
    """
    key = (group, foundation)
    if key not in ISO_10816_3_ZONE_LIMITS_MM_S:
        raise ValueError(f"unknown machine class {key}; known: {sorted(ISO_10816_3_ZONE_LIMITS_MM_S)}")
    if not velocity_rms >= 0:
        raise ValueError("RMS velocity must be a non-negative number of mm/s")
    limits = ISO_10816_3_ZONE_LIMITS_MM_S[key]
    zone = "ABCD"[int(np.searchsorted(limits, velocity_rms, side="right"))]
    return IsoZone(
        zone=zone,
        velocity_rms_mm_s=float(velocity_rms),
        group=group,
        foundation=foundation,
        limits_mm_s=limits,
        level=ZONE_LEVELS[zone],
        description=ZONE_DESCRIPTIONS[zone],
    )
