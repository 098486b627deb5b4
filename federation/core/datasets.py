"""Health features from the CWRU bearing data set, and federated splits of a labelled set.

Used by the federation tests and benchmarks as a realistic, small classification problem; the portal's
own health indicators live in ``health/core``. Data: Case Western Reserve University Bearing Data
Center, drive-end accelerometer (``X<nnn>_DE_time``, g) of the 12 kHz fault records and of the healthy
record ``normal_0_97.mat`` (48 kHz, decimated by 4 to 12 kHz with a zero-phase FIR filter).

Classes (7): normal, B007, B021, IR007, IR021, OR007, OR021 (ball / inner race / outer race fault of
0.007 or 0.021 inch), all loads pooled.

Features of a window of ``window_samples`` samples at 12 kHz (Randall & Antoni, "Rolling element bearing
diagnostics - a tutorial", MSSP 2011, for the envelope analysis):
- log energy of the Hann-windowed power spectrum in ``spectrum_bands`` equal bands over 0..6 kHz;
- log energy of the envelope spectrum (|analytic signal|, mean removed) in ``envelope_bands`` equal
  bands over 0..``envelope_max_hz`` (bearing fault frequencies and harmonics lie there);
- log RMS, kurtosis, crest factor and skewness of the window.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import io, signal, stats

CWRU_CLASS_NAMES = ("normal", "B007", "B021", "IR007", "IR021", "OR007", "OR021")
CWRU_SAMPLING_RATE_HZ = 12_000
_FAULT_FILE = re.compile(r"^12k_Drive_End_(B|IR|OR)(007|021)(?:@6)?_\d_(\d+)\.mat$")


@dataclass(frozen=True)
class LabelledSet:
    features: np.ndarray  # (n, d) float64
    labels: np.ndarray  # (n,) int64
    class_names: tuple[str, ...]


def _drive_end_signal(path: Path) -> np.ndarray:
    contents = io.loadmat(path)
    names = [k for k in contents if k.endswith("_DE_time")]
    if len(names) != 1:
        raise ValueError(f"{path.name}: expected one *_DE_time variable, found {names}")
    return np.asarray(contents[names[0]], dtype=np.float64).ravel()


def _windows(samples: np.ndarray, window_samples: int, hop_samples: int) -> np.ndarray:
    count = 1 + (samples.size - window_samples) // hop_samples
    index = np.arange(window_samples)[None, :] + hop_samples * np.arange(count)[:, None]
    return samples[index]


def _band_log_energy(power: np.ndarray, frequencies: np.ndarray, edges_hz: np.ndarray) -> np.ndarray:
    band = np.digitize(frequencies, edges_hz) - 1
    inside = (band >= 0) & (band < edges_hz.size - 1)
    energies = np.zeros((power.shape[0], edges_hz.size - 1))
    np.add.at(energies.T, band[inside], power[:, inside].T)
    return np.log(energies + 1e-12)


def window_features(
    windows: np.ndarray,
    *,
    sampling_rate_hz: float = CWRU_SAMPLING_RATE_HZ,
    spectrum_bands: int = 32,
    envelope_bands: int = 16,
    envelope_max_hz: float = 600.0,
) -> np.ndarray:
    """Health features of signal windows ``(n, samples)`` (acceleration, any unit) -> ``(n, d)`` with
    ``d = spectrum_bands + envelope_bands + 4`` (see the module docstring)."""
    windows = np.asarray(windows, dtype=np.float64)
    centred = windows - windows.mean(axis=1, keepdims=True)
    samples = windows.shape[1]
    frequencies = np.fft.rfftfreq(samples, 1.0 / sampling_rate_hz)
    power = np.abs(np.fft.rfft(centred * np.hanning(samples), axis=1)) ** 2
    spectrum = _band_log_energy(power, frequencies, np.linspace(0, sampling_rate_hz / 2, spectrum_bands + 1))
    envelope = np.abs(signal.hilbert(centred, axis=1))
    envelope -= envelope.mean(axis=1, keepdims=True)
    envelope_power = np.abs(np.fft.rfft(envelope, axis=1)) ** 2
    envelope_spectrum = _band_log_energy(
        envelope_power, frequencies, np.linspace(0, envelope_max_hz, envelope_bands + 1)
    )
    rms = np.sqrt(np.mean(centred**2, axis=1))
    shape = np.stack(
        [
            np.log(rms + 1e-12),
            stats.kurtosis(centred, axis=1),
            np.max(np.abs(centred), axis=1) / (rms + 1e-12),
            stats.skew(centred, axis=1),
        ],
        axis=1,
    )
    return np.concatenate([spectrum, envelope_spectrum, shape], axis=1)


def cwru_feature_set(
    data_dir: Path,
    *,
    window_samples: int = 2048,
    fault_hop_samples: int = 2048,
    normal_hop_samples: int = 512,
) -> LabelledSet:
    """Unstandardised features of every window of the CWRU records in ``data_dir`` (see module doc).

    Fault records are cut without overlap; the single (shorter) normal record overlaps by
    ``window_samples - normal_hop_samples`` so that the normal class is not tiny.
    """
    data_dir = Path(data_dir)
    features, labels = [], []
    normal = signal.decimate(_drive_end_signal(data_dir / "normal_0_97.mat"), 4, ftype="fir", zero_phase=True)
    features.append(window_features(_windows(normal, window_samples, normal_hop_samples)))
    labels.append(np.zeros(features[-1].shape[0], dtype=np.int64))
    for path in sorted(data_dir.glob("12k_Drive_End_*.mat")):
        match = _FAULT_FILE.match(path.name)
        if match is None:
            continue
        label = CWRU_CLASS_NAMES.index(match.group(1) + match.group(2))
        windows = _windows(_drive_end_signal(path), window_samples, fault_hop_samples)
        features.append(window_features(windows))
        labels.append(np.full(windows.shape[0], label, dtype=np.int64))
    found = np.unique(np.concatenate(labels))
    if found.size != len(CWRU_CLASS_NAMES):
        raise FileNotFoundError(f"{data_dir}: records of some classes are missing (found {found.tolist()})")
    return LabelledSet(np.concatenate(features), np.concatenate(labels), CWRU_CLASS_NAMES)


def stratified_split(
    labels: np.ndarray, *, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` with ``test_fraction`` of every class in the test part."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = int(round(test_fraction * members.size))
        test.append(members[:cut])
        train.append(members[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """z-score every array with the mean and standard deviation of ``train`` (per feature)."""
    mean = train.mean(axis=0)
    scale = train.std(axis=0)
    scale[scale == 0] = 1.0
    return [(array - mean) / scale for array in (train, *others)]


def non_iid_split(
    labels: np.ndarray,
    *,
    num_clients: int,
    classes_per_client: int,
    shared_classes: tuple[int, ...] = (0,),
    seed: int,
) -> list[np.ndarray]:
    """Indices of each client's samples when every client misses some classes.

    Every client holds the ``shared_classes`` (e.g. the healthy class) and ``classes_per_client`` of
    the other classes in a sliding window (client j holds others[(j + k) mod F], k < classes_per_client);
    each class's samples are divided evenly (at random) among the clients holding it.
    """
    rng = np.random.default_rng(seed)
    others = [c for c in np.unique(labels) if c not in shared_classes]
    holders: dict[int, list[int]] = {int(c): list(range(num_clients)) for c in shared_classes}
    for client in range(num_clients):
        for k in range(classes_per_client):
            holders.setdefault(int(others[(client + k) % len(others)]), []).append(client)
    parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
    for label, clients in holders.items():
        members = rng.permutation(np.flatnonzero(labels == label))
        for client, chunk in zip(clients, np.array_split(members, len(clients))):
            parts[client].append(chunk)
    return [np.sort(np.concatenate(chunks)) for chunks in parts]


def iid_split(num_samples: int, *, num_clients: int, seed: int) -> list[np.ndarray]:
    """Indices of an even random split of ``num_samples`` samples among ``num_clients`` clients."""
    order = np.random.default_rng(seed).permutation(num_samples)
    return [np.sort(chunk) for chunk in np.array_split(order, num_clients)]
