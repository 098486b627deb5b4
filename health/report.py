"""The analyst's side of the health core (``manage.py health_analyze``): reading a signal file and its
healthy references, bearing geometry from the command line, and the report as JSON or text.
No database: it works on files only.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from devices.core import read_signal_file

from .analysis import finite_json
from .core.analysis import AnalysisResult, analyze_signal
from .core.faults import BEARING_PRESETS, BearingGeometry, bearing_preset
from .core.validation import SignalError

CWRU_CHANNEL = "DE"  # the drive-end accelerometer, next to the bearing with the seeded fault


def parse_bearing(spec: str) -> BearingGeometry:
    """A preset name (``6205``, ``6203``, ``simulated``) or ``BALLS,BALL_DIAMETER,PITCH_DIAMETER[,CONTACT_DEG]``
    (diameters in any one unit). Raises ValueError with what was expected."""
    spec = spec.strip()
    if spec in BEARING_PRESETS:
        return bearing_preset(spec)
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) not in (3, 4):
        raise ValueError(f"--bearing must be a preset ({', '.join(sorted(BEARING_PRESETS))}) or "
                         f"BALLS,BALL_DIAMETER,PITCH_DIAMETER,CONTACT_DEG; got {spec!r}")
    try:
        balls = int(parts[0])
        ball_diameter, pitch_diameter = float(parts[1]), float(parts[2])
        contact_deg = float(parts[3]) if len(parts) == 4 else 0.0
    except ValueError:
        raise ValueError(f"--bearing needs numbers: BALLS,BALL_DIAMETER,PITCH_DIAMETER,CONTACT_DEG; got {spec!r}") from None
    if not 0 <= contact_deg < 90:
        raise ValueError("the contact angle must lie between 0 and 90 degrees")
    return BearingGeometry(balls, ball_diameter, pitch_diameter, contact_deg, name=f"{balls} elements, d/D "
                           f"{ball_diameter / pitch_diameter:.3f}, {contact_deg:g}°")


@dataclass
class SignalRecord:
    path: Path
    channel: str
    samples: np.ndarray
    sampling_rate_hz: float
    rpm: float | None


def read_record(path: str | Path, *, channel: str | None = None, sampling_rate_hz: float | None = None) -> SignalRecord:
    """One channel of a signal file (any format the devices core reads). The channel defaults to a CWRU
    file's drive-end accelerometer, else the file's first column; the rate and shaft speed to what the
    file says. Raises ValueError (the devices core's errors are ValueErrors) with a clear message."""
    path = Path(path)
    table = read_signal_file(str(path), filename=path.name)
    if channel is None:
        channel = CWRU_CHANNEL if CWRU_CHANNEL in table.channel_names else table.channel_names[0]
    if channel not in table.channel_names:
        raise ValueError(f"{path.name} has no channel {channel!r}; it has {', '.join(table.channel_names)}")
    rate = sampling_rate_hz or table.sampling_rate_hint_hz
    if rate is None:
        raise ValueError(f"{path.name} does not say its sampling rate: give --fs")
    return SignalRecord(path=path, channel=channel, samples=np.asarray(table.channel(channel), dtype=np.float64),
                        sampling_rate_hz=float(rate), rpm=table.rpm)


def resample_to(record: SignalRecord, sampling_rate_hz: float) -> tuple[np.ndarray, str | None]:
    """A healthy reference at the analysed signal's rate: unchanged, or decimated (FIR, zero phase) when
    its rate is an integer multiple (e.g. CWRU's 48 kHz healthy record against 12 kHz fault records)."""
    import scipy.signal

    ratio = record.sampling_rate_hz / sampling_rate_hz
    if abs(ratio - 1.0) < 1e-9:
        return record.samples, None
    factor = int(round(ratio))
    if factor < 2 or abs(ratio - factor) > 1e-6:
        raise ValueError(f"baseline {record.path.name} is sampled at {record.sampling_rate_hz:g} Hz and the signal at "
                         f"{sampling_rate_hz:g} Hz; give references at the same rate or an integer multiple of it")
    decimated = scipy.signal.decimate(record.samples, factor, ftype="fir", zero_phase=True)
    return decimated, f"baseline {record.path.name} decimated by {factor} to {sampling_rate_hz:g} Hz"


def analyze_file(path, *, channel=None, sampling_rate_hz=None, rpm=None, bearing: str | None = None,
                 baseline_paths=(), stroke_rate_spm=None, kurtogram_level: int = 6) -> tuple[AnalysisResult, dict]:
    """Analyse one channel of a file against optional healthy reference files; returns the result and a
    description of the inputs. Raises ValueError for any bad input."""
    record = read_record(path, channel=channel, sampling_rate_hz=sampling_rate_hz)
    rpm = rpm if rpm is not None else record.rpm
    if rpm is not None and not rpm > 0:
        raise ValueError("--rpm must be a positive shaft speed")
    shaft_hz = rpm / 60.0 if rpm else None
    geometry = parse_bearing(bearing) if bearing else None
    if geometry is not None and shaft_hz is None:
        raise ValueError("bearing fault frequencies need the shaft speed: give --rpm (the file does not carry it)")
    references, notes, reference_rpms = [], [], []
    for baseline_path in baseline_paths:
        reference = read_record(baseline_path, channel=record.channel)
        samples, note = resample_to(reference, record.sampling_rate_hz)
        references.append(samples)
        if note:
            notes.append(note)
        if reference.rpm:
            reference_rpms.append(reference.rpm)
    result = analyze_signal(
        record.samples, record.sampling_rate_hz, shaft_hz=shaft_hz, bearing=geometry, stroke_rate_spm=stroke_rate_spm,
        baseline_windows=references or None,
        baseline_shaft_hz=float(np.median(reference_rpms)) / 60.0 if reference_rpms else None,
        kurtogram_level=kurtogram_level)
    result.notes.extend(notes)
    source = {"file": record.path.name, "channel": record.channel, "sampling_rate_hz": record.sampling_rate_hz,
              "n_samples": int(record.samples.size), "rpm": rpm, "shaft_hz": shaft_hz,
              "bearing": geometry.to_dict() if geometry else None,
              "baseline_files": [Path(p).name for p in baseline_paths]}
    return result, source


def report_dict(result: AnalysisResult, source: dict) -> dict:
    """The JSON report: the core's result without the chart arrays (spectrum, kurtogram matrices)."""
    data = result.to_dict()
    data.pop("ses", None)
    kurtogram = data.pop("kurtogram", {})
    data["kurtogram"] = {"levels": kurtogram.get("levels"), "max_level": kurtogram.get("max_level"),
                         "selection_method": kurtogram.get("selection_method")}
    return finite_json({"source": source, **data})


def _number(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def report_text(result: AnalysisResult, source: dict) -> str:
    """A readable report for a terminal."""
    data = report_dict(result, source)
    lines = ["PressTrust health analysis",
             f"  file       {source['file']}",
             f"  channel    {source['channel']}: {source['n_samples']:,} samples at {source['sampling_rate_hz']:,.0f} Hz "
             f"({source['n_samples'] / source['sampling_rate_hz']:.2f} s)"]
    if source["shaft_hz"]:
        lines.append(f"  shaft      {source['rpm']:.0f} rpm = {source['shaft_hz']:.2f} Hz")
    if source["bearing"]:
        lines.append(f"  bearing    {source['bearing']['name'] or 'given geometry'}")
    baseline = data.get("baseline")
    lines.append(f"  baseline   {len(source['baseline_files'])} healthy file(s), {baseline['n_windows']} windows"
                 if baseline else "  baseline   none (the level rests on fault evidence alone)")
    lines += ["", f"  {'indicator':<12} {'time (envelope)':>16} {'cyclic (SES)':>14}"]
    for name, values in data["indicators"].items():
        lines.append(f"  {name:<12} {_number(values['time']):>16} {_number(values['cyclic']):>14}")
    band = data["band"]
    lines += ["", f"  band       {band['low_hz']:.0f}–{band['high_hz']:.0f} Hz (centre {band['center_hz']:.0f} Hz, "
                  f"width {band['bandwidth_hz']:.0f} Hz; {band['method']}, level {band['level']:.2f})"]
    peaks = ", ".join(f"{peak['hz']:.1f} Hz ({peak['snr_db']:.0f} dB)" for peak in data["ses_peaks"][:6])
    lines.append(f"  SES peaks  {peaks or 'none above the background'}")
    lines += ["", "  faults (strongest first; * stands out)"]
    for fault in data["faults"] or []:
        lines.append(f"  {'*' if fault['significant'] else ' '} {fault['component']} {fault['fault']} ({fault['label']}): "
                     f"expected {fault['expected_hz']:.1f} Hz, found {fault['found_hz']:.1f} Hz, "
                     f"strength {fault['strength']:.1f}")
    if not data["faults"]:
        lines.append("    none: no fault-frequency line above the SES background")
    lines += ["", f"  health index {_number(data['health_index'], 2)}  (z {_number(data['health_index_z'], 2)})",
              f"  level        {data['level']} {data['level_name']}"
              + (f" — {'; '.join(data['level_reasons'])}" if data["level_reasons"] else ""),
              f"  advice       {data['advice']['text']}"]
    for note in data["notes"]:
        lines.append(f"  note         {note}")
    return "\n".join(lines)


__all__ = ["SignalError", "analyze_file", "parse_bearing", "report_dict", "report_text"]
