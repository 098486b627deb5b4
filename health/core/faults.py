"""Fault characteristic frequencies from component geometry, SES peaks, and their matching.

Bearing kinematics (Harris, "Rolling Bearing Analysis"; Randall & Antoni, MSSP 2011, eqs. 1-4),
for a stationary outer race, shaft frequency f_r, n rolling elements of diameter d on a pitch
diameter D with contact angle phi:

    BPFO = n f_r / 2 (1 - d/D cos phi)      BPFI = n f_r / 2 (1 + d/D cos phi)
    FTF  =   f_r / 2 (1 - d/D cos phi)      BSF  = D f_r / (2 d) (1 - (d/D cos phi)**2)

Ball faults usually show at 2 x BSF (the defect strikes both races once per ball spin). Gear mesh
frequency = teeth x shaft frequency; a local tooth fault repeats at the gear's shaft frequency.
On a press the forming impacts repeat at the stroke rate (strokes per minute / 60).

Real machines slip: rolling elements skid and speeds wander, so measured bearing lines sit up to
1-2 % away from the kinematic values (Randall & Antoni 2011). Matching therefore searches a
relative tolerance around each expected frequency and counts harmonics (and the modulation
sidebands of inner-race and ball faults) as further evidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.ndimage as sp_ndimage

from .envelope import shaft_harmonic_mask


@dataclass(frozen=True)
class BearingGeometry:
    """Rolling-element bearing geometry.

    ``n_rolling_elements``; ``rolling_element_diameter`` and ``pitch_diameter`` in the same unit
    (any; only their ratio matters); ``contact_angle_deg`` in degrees; ``name`` for display.
    """

    n_rolling_elements: int
    rolling_element_diameter: float
    pitch_diameter: float
    contact_angle_deg: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        """Reject geometries that cannot exist (no elements, element larger than the pitch circle)."""
        if self.n_rolling_elements < 1:
            raise ValueError("a bearing needs at least one rolling element")
        if not 0 < self.rolling_element_diameter < self.pitch_diameter:
            raise ValueError("rolling_element_diameter must be positive and below pitch_diameter")

    def fault_orders(self) -> dict[str, float]:
        """Fault frequencies as multiples of the shaft frequency: ``bpfo``, ``bpfi``, ``bsf``, ``ftf``.

        Method: Harris; Randall & Antoni, MSSP 2011 (outer race stationary, inner race rotating).
        """
        ratio = self.rolling_element_diameter / self.pitch_diameter * np.cos(np.radians(self.contact_angle_deg))
        n = self.n_rolling_elements
        return {
            "bpfo": n / 2.0 * (1.0 - ratio),
            "bpfi": n / 2.0 * (1.0 + ratio),
            "bsf": self.pitch_diameter / (2.0 * self.rolling_element_diameter) * (1.0 - ratio**2),
            "ftf": 0.5 * (1.0 - ratio),
        }

    def to_dict(self) -> dict:
        """JSON-able geometry."""
        return asdict(self)


# Named bearings. '6205' is the drive-end bearing of the CWRU Bearing Data Center test rig
# (SKF 6205-2RS JEM): BPFO 3.5848, BPFI 5.4152, BSF 2.3567, FTF 0.3983 x shaft frequency.
BEARING_PRESETS: dict[str, BearingGeometry] = {
    "6205": BearingGeometry(9, 0.3126, 1.537, 0.0, name="SKF 6205-2RS JEM (CWRU drive end)"),
    "6203": BearingGeometry(8, 0.2656, 1.122, 0.0, name="SKF 6203-2RS JEM (CWRU fan end)"),
    # Round numbers for the simulator and the demo: BPFO 3.6, BPFI 5.4, BSF 2.4, FTF 0.4 x shaft
    # (non-integer orders, so fault lines do not sit on shaft harmonics): at 25 Hz the outer race
    # rings at 90 Hz, the inner race at 135 Hz, a ball at 2xBSF = 120 Hz, the cage at 10 Hz.
    "simulated": BearingGeometry(9, 0.2, 1.0, 0.0, name="simulator reference bearing"),
}


def bearing_preset(name: str) -> BearingGeometry:
    """Look up a named bearing in :data:`BEARING_PRESETS`; raises ValueError listing the known names."""
    try:
        return BEARING_PRESETS[str(name)]
    except KeyError:
        raise ValueError(f"unknown bearing preset {name!r}; known: {sorted(BEARING_PRESETS)}") from None


@dataclass(frozen=True)
class FaultFrequency:
    """One fault characteristic frequency to look for in a squared envelope spectrum.

    ``component`` (``bearing``, ``gear``, ``press``), ``fault`` (``outer_race``, ``inner_race``,
    ``ball``, ``cage``, ``mesh``, ``tooth``, ``stroke``), ``label`` (BPFO, BPFI, 2xBSF, FTF, GMF, ...),
    ``frequency_hz`` the expected frequency, ``sideband_hz`` the modulation expected around it
    (shaft frequency for an inner race, cage frequency for a ball; 0 if none), and
    ``avoid_shaft_harmonics``: whether lines at shaft harmonics are ignored as evidence.
    """

    component: str
    fault: str
    label: str
    frequency_hz: float
    sideband_hz: float = 0.0
    avoid_shaft_harmonics: bool = True


def bearing_fault_frequencies(geometry: BearingGeometry, shaft_hz: float) -> list[FaultFrequency]:
    """BPFO, BPFI, 2 x BSF and FTF (Hz) of a bearing at shaft frequency ``shaft_hz`` (Hz).

    Output: :class:`FaultFrequency` list (outer race, inner race, ball, cage). Method: Harris;
    Randall & Antoni, MSSP 2011. Ball faults are searched at 2 x BSF, where they usually show.
    """
    orders = geometry.fault_orders()
    cage_hz = orders["ftf"] * shaft_hz
    return [
        FaultFrequency("bearing", "outer_race", "BPFO", orders["bpfo"] * shaft_hz),
        FaultFrequency("bearing", "inner_race", "BPFI", orders["bpfi"] * shaft_hz, sideband_hz=shaft_hz),
        FaultFrequency("bearing", "ball", "2xBSF", 2.0 * orders["bsf"] * shaft_hz, sideband_hz=cage_hz),
        FaultFrequency("bearing", "cage", "FTF", cage_hz),
    ]


def gear_fault_frequencies(teeth: int, shaft_hz: float) -> list[FaultFrequency]:
    """Gear mesh frequency (teeth x shaft Hz) and the local-tooth-fault rate (the gear's shaft Hz).

    Output: two :class:`FaultFrequency` entries (``mesh`` with shaft sidebands, ``tooth``).
    Method: Randall, "Vibration-based Condition Monitoring", Wiley 2011, ch. 2.
    """
    if teeth < 1:
        raise ValueError("a gear needs at least one tooth")
    return [
        FaultFrequency("gear", "mesh", "GMF", teeth * shaft_hz, sideband_hz=shaft_hz, avoid_shaft_harmonics=False),
        FaultFrequency("gear", "tooth", "GEAR_SHAFT", shaft_hz, avoid_shaft_harmonics=False),
    ]


def stroke_fault_frequencies(stroke_rate_spm: float) -> list[FaultFrequency]:
    """The stroke rate of a press (strokes per minute -> Hz) as a frequency whose harmonics mark
    stroke-synchronous impacts that survived the stroke-synchronous average (die, clutch, gibs)."""
    return [FaultFrequency("press", "stroke", "STROKE", stroke_rate_spm / 60.0, avoid_shaft_harmonics=False)]


@dataclass(frozen=True)
class SesPeak:
    """A line in a squared envelope spectrum: ``frequency_hz``, ``amplitude`` (SES unit, or share of
    the normalized SES), ``snr_db`` its height over the local background (dB)."""

    frequency_hz: float
    amplitude: float
    snr_db: float

    def to_dict(self) -> dict:
        """JSON-able ``{"hz", "amplitude", "snr_db"}``."""
        return {"hz": self.frequency_hz, "amplitude": self.amplitude, "snr_db": self.snr_db}


@dataclass
class FaultMatch:
    """Evidence for one fault: the expected and found frequencies (Hz), ``strength`` (sum over the
    detected harmonics and sidebands of their dB above the detection threshold), ``harmonics``
    the list of ``(order, frequency_hz, snr_db)`` detected, ``sidebands`` how many modulation
    sidebands were found."""

    component: str
    fault: str
    label: str
    expected_hz: float
    found_hz: float
    strength: float
    harmonics: list[tuple[int, float, float]] = field(default_factory=list)
    sidebands: int = 0

    def to_dict(self) -> dict:
        """JSON-able match (harmonics as ``{"order", "hz", "snr_db"}``)."""
        return {
            "component": self.component,
            "fault": self.fault,
            "label": self.label,
            "expected_hz": self.expected_hz,
            "found_hz": self.found_hz,
            "strength": self.strength,
            "harmonics": [{"order": order, "hz": hz, "snr_db": snr} for order, hz, snr in self.harmonics],
            "sidebands": self.sidebands,
        }


def ses_background(ses: np.ndarray, resolution_hz: float, *, window_hz: float = 8.0) -> np.ndarray:
    """Local background level of an SES: running median over ``window_hz`` divided by ln 2.

    For a noise-only SES the bins are exponentially distributed, whose mean is median / ln 2, so
    ``ses / background`` is a peak-to-mean ratio. Input: SES (1-D) with bin spacing
    ``resolution_hz``. Output: background (same unit and length). Method: robust spectral
    pre-whitening (Randall & Antoni, MSSP 2011).
    """
    size = max(9, int(round(window_hz / resolution_hz)) | 1)
    size = min(size, max(3, (ses.size // 2) | 1))
    background = sp_ndimage.median_filter(ses, size=size, mode="reflect") / np.log(2.0)
    floor = max(float(np.median(ses)) * 1e-3, np.finfo(float).tiny)
    return np.maximum(background, floor)


def find_ses_peaks(
    cyclic_frequency_hz: np.ndarray,
    ses: np.ndarray,
    *,
    alpha_min_hz: float,
    alpha_max_hz: float,
    min_snr_db: float = 10.0,
    max_peaks: int = 12,
    background: np.ndarray | None = None,
) -> list[SesPeak]:
    """The strongest local maxima of an SES in [alpha_min_hz, alpha_max_hz].

    Inputs: cyclic-frequency axis (Hz, uniform) and SES; the range; ``min_snr_db`` the height over
    the local background (:func:`ses_background`) a line needs; ``max_peaks``. Output: up to
    ``max_peaks`` :class:`SesPeak`, strongest (highest SNR) first.
    """
    resolution_hz = float(cyclic_frequency_hz[1] - cyclic_frequency_hz[0])
    if background is None:
        background = ses_background(ses, resolution_hz)
    first = max(1, int(np.ceil(alpha_min_hz / resolution_hz)))
    last = min(ses.size - 2, int(np.floor(alpha_max_hz / resolution_hz)))
    if last <= first:
        return []
    centre = ses[first : last + 1]
    is_peak = (centre >= ses[first - 1 : last]) & (centre > ses[first + 1 : last + 2])
    ratio = centre / background[first : last + 1]
    is_peak &= ratio >= 10 ** (min_snr_db / 10.0)
    indices = np.flatnonzero(is_peak)
    order = indices[np.argsort(ratio[indices])[::-1][:max_peaks]]
    return [
        SesPeak(
            frequency_hz=float(cyclic_frequency_hz[first + i]),
            amplitude=float(centre[i]),
            snr_db=float(10 * np.log10(ratio[i])),
        )
        for i in order
    ]


def _family_mask(
    cyclic_frequency_hz: np.ndarray,
    fault_hz: float,
    shaft_hz: float | None,
    resolution_hz: float,
    n_shaft_sidebands: int,
) -> np.ndarray:
    """True for SES bins on the line family of a fault: h f +/- k f_shaft for all h, |k| <= n."""
    mask = np.zeros(cyclic_frequency_hz.size, dtype=bool)
    top_hz = float(cyclic_frequency_hz[-1])
    n_orders = int(top_hz // fault_hz) + 1
    offsets = [0.0]
    if shaft_hz:
        offsets = [k * shaft_hz for k in range(-n_shaft_sidebands, n_shaft_sidebands + 1)]
    centres = (np.arange(1, n_orders + 1)[:, np.newaxis] * fault_hz + np.asarray(offsets)[np.newaxis, :]).ravel()
    centres = centres[(centres > 0) & (centres <= top_hz)]
    half_width_bins = np.maximum(1.5, 0.003 * centres / resolution_hz)
    low = np.clip(np.floor(centres / resolution_hz - half_width_bins).astype(int), 0, mask.size - 1)
    high = np.clip(np.ceil(centres / resolution_hz + half_width_bins).astype(int), 0, mask.size - 1)
    change = np.zeros(mask.size + 1, dtype=int)
    np.add.at(change, low, 1)
    np.add.at(change, high + 1, -1)
    return np.cumsum(change[:-1]) > 0


def match_fault_frequencies(
    cyclic_frequency_hz: np.ndarray,
    ses: np.ndarray,
    candidates: list[FaultFrequency],
    *,
    tolerance: float = 0.02,
    n_harmonics: int = 3,
    min_snr_db: float = 10.0,
    shaft_hz: float | None = None,
    n_shaft_sidebands: int = 3,
    background: np.ndarray | None = None,
) -> list[FaultMatch]:
    """Match SES lines to fault frequencies; return the faults with evidence, strongest first.

    Inputs: the SES and its cyclic-frequency axis (Hz); ``candidates`` (see
    :func:`bearing_fault_frequencies` etc.); ``tolerance`` the relative search half-width for
    slip (0.02 = 2 %); ``n_harmonics`` searched; ``min_snr_db`` a line's height over the local
    background to count; ``shaft_hz`` to ignore shaft harmonics as bearing evidence and to
    attribute shaft sidebands; ``n_shaft_sidebands`` how many orders of them.
    Procedure for each candidate f: search each harmonic h <= n_harmonics inside
    h f (1 +/- tolerance); the highest line (in dB over background) fixes the actual fault
    frequency f' = line / h (slip is the same for all harmonics); the other harmonics are then
    looked for tightly at h f', and the inner-race / ball modulation sidebands at f' +/- sideband.
    Strength = sum over detected lines of (snr_db - min_snr_db + 1), sidebands counted half.
    Lines are attributed greedily: the strongest fault claims its whole line family (all its
    harmonics and their shaft sidebands h f' +/- k f_shaft), and the remaining candidates are
    re-scored without those lines, so one fault's harmonic cannot pass as another fault's line.
    Output: :class:`FaultMatch` list (only candidates with at least one detected line).
    Method: envelope analysis with harmonic and sideband evidence, Randall & Antoni, MSSP 2011.
    """
    resolution_hz = float(cyclic_frequency_hz[1] - cyclic_frequency_hz[0])
    if background is None:
        background = ses_background(ses, resolution_hz)
    ratio_db = 10.0 * np.log10(np.maximum(ses, np.finfo(float).tiny) / background)
    shaft_mask = shaft_harmonic_mask(cyclic_frequency_hz, shaft_hz)
    claimed = np.zeros(ses.size, dtype=bool)
    remaining = [c for c in candidates if c.frequency_hz > 0 and c.frequency_hz * (1 - tolerance) < cyclic_frequency_hz[-1]]
    matches: list[FaultMatch] = []
    while remaining:
        scored = [
            (match, candidate)
            for candidate in remaining
            if (match := _score_candidate(
                candidate, cyclic_frequency_hz, ratio_db, shaft_mask, claimed, resolution_hz,
                tolerance=tolerance, n_harmonics=n_harmonics, min_snr_db=min_snr_db, shaft_hz=shaft_hz,
            )) is not None
        ]
        if not scored:
            break
        match, candidate = max(scored, key=lambda item: item[0].strength)
        matches.append(match)
        remaining.remove(candidate)
        claimed |= _family_mask(cyclic_frequency_hz, match.found_hz, shaft_hz, resolution_hz, n_shaft_sidebands)
    return matches


def _score_candidate(
    candidate: FaultFrequency,
    cyclic_frequency_hz: np.ndarray,
    ratio_db: np.ndarray,
    shaft_mask: np.ndarray,
    claimed: np.ndarray,
    resolution_hz: float,
    *,
    tolerance: float,
    n_harmonics: int,
    min_snr_db: float,
    shaft_hz: float | None,
) -> FaultMatch | None:
    """Evidence for one candidate from the lines not yet claimed (see match_fault_frequencies)."""
    top_bin = ratio_db.size - 1
    blocked = claimed | shaft_mask if (candidate.avoid_shaft_harmonics and shaft_hz) else claimed
    available_db = np.where(blocked, -np.inf, ratio_db)
    sideband_db = np.where(claimed, -np.inf, ratio_db)

    def best_line(values: np.ndarray, center_hz: float, half_width_hz: float) -> tuple[float, float]:
        """Frequency (Hz) and height (dB) of the highest bin in center +/- half width."""
        # bins whose centre lies inside [center - half_width, center + half_width]; at least the nearest one
        low = max(1, int(np.ceil((center_hz - half_width_hz) / resolution_hz - 1e-9)))
        high = min(top_bin, int(np.floor((center_hz + half_width_hz) / resolution_hz + 1e-9)))
        if high < low:
            low = high = int(np.clip(np.round(center_hz / resolution_hz), 1, top_bin))
        index = int(np.argmax(values[low : high + 1]))
        return float(cyclic_frequency_hz[low + index]), float(values[low + index])

    expected = candidate.frequency_hz
    searched = []
    for order in range(1, n_harmonics + 1):
        if order * expected * (1 - tolerance) > cyclic_frequency_hz[top_bin]:
            break
        searched.append((order, *best_line(available_db, order * expected, order * expected * tolerance + resolution_hz)))
    if not searched:
        return None
    best_order, best_hz, best_db = max(searched, key=lambda item: item[2])
    if best_db < min_snr_db:
        return None
    fault_hz = best_hz / best_order
    tight_hz = max(1.5 * resolution_hz, 0.003 * fault_hz)
    harmonics: list[tuple[int, float, float]] = []
    for order, _, _ in searched:
        if order == best_order:
            line_hz, line_db = best_hz, best_db
        else:
            line_hz, line_db = best_line(available_db, order * fault_hz, order * tight_hz)
        if line_db >= min_snr_db:
            harmonics.append((order, line_hz, line_db))
    if any(order == 1 for order, _, _ in harmonics):
        fault_hz = next(hz for order, hz, _ in harmonics if order == 1)
    strength = sum(db - min_snr_db + 1.0 for _, _, db in harmonics)
    sidebands = 0
    if candidate.sideband_hz > 0:
        for sign in (-1.0, 1.0):
            _, side_db = best_line(sideband_db, fault_hz + sign * candidate.sideband_hz, tight_hz)
            if side_db >= min_snr_db:
                sidebands += 1
                strength += 0.5 * (side_db - min_snr_db + 1.0)
    return FaultMatch(
        component=candidate.component,
        fault=candidate.fault,
        label=candidate.label,
        expected_hz=float(expected),
        found_hz=float(fault_hz),
        strength=float(strength),
        harmonics=harmonics,
        sidebands=sidebands,
    )
