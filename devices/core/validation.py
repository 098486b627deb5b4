"""Whole-batch validation of an uploaded signal before anything is stored.

``validate_signal_table`` checks, in this order, and raises the first failure:

1. empty signal (no samples or no channels)                         EmptySignalError
2. fewer than ``min_samples`` samples                               SignalTooShortError
3. NaN or +-infinity (first offending row, then column)            NonFiniteValueError
4. a constant ("dead") channel: max - min <= ``dead_channel_ptp``   DeadChannelError
5. clipping: share of clipped samples > ``clip_share_limit``        ClippedSignalError
6. sampling rate outside 100 Hz .. 1 MHz                           SamplingRateError
7. channels: the mapping names a column the file lacks, maps two    ChannelMappingError
   columns to one channel or selects a name the file has twice; or  ChannelMismatchError
   the channels are not the ``expected_channels`` (count or names)

Checks 3-5 look at the channels that will be stored: the mapped columns when the mapping resolves,
all columns otherwise (its error is then raised at step 7).

Clipping definition. A saturated acquisition chain holds its rail value for consecutive samples,
while a real vibration signal essentially never repeats its exact extreme value several samples in a
row. So a sample counts as clipped when

* ``full_scale`` is given for the channel (same units as the samples): ``|x| >= full_scale``;
* otherwise: it belongs to a run of at least ``min_clip_run`` (default 3) consecutive samples equal
  to the channel's own maximum, or to its own minimum.

The clipped share is clipped samples / all samples of the channel, compared with
``clip_share_limit`` (default 1 %).

Memory: the samples are read in row chunks of about ``chunk_bytes`` (8 MiB), twice (statistics, then
clipping runs), so besides the table itself only chunk-sized temporaries exist; a 200 MB upload is
never copied whole. ``ValidationReport.extract_float32`` then writes the stored float32 array, also
chunk by chunk.

Per-channel summary (on the raw samples, no mean removal): RMS = sqrt(mean(x^2)), peak = max |x|,
crest factor = peak / RMS (ISO 18431-2 / the usual vibration definitions).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from .errors import (
    BatchValidationError,
    ChannelMappingError,
    ChannelMismatchError,
    ClippedSignalError,
    DeadChannelError,
    EmptySignalError,
    NonFiniteValueError,
    SamplingRateError,
    SignalTooShortError,
)
from .table import SignalTable

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "MAX_SAMPLING_RATE_HZ",
    "MIN_SAMPLING_RATE_HZ",
    "ChannelSummary",
    "ValidationReport",
    "validate_signal_table",
]

MIN_SAMPLING_RATE_HZ = 100.0
MAX_SAMPLING_RATE_HZ = 1_000_000.0
DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024
#: Relative difference between the declared rate and the file's hint that earns a warning.
RATE_HINT_TOLERANCE = 0.01


@dataclasses.dataclass(frozen=True)
class ChannelSummary:
    """Statistics of one stored channel, in the signal's units (crest factor is dimensionless)."""

    name: str
    source_column: int
    rms: float
    peak: float
    crest_factor: float
    mean: float
    minimum: float
    maximum: float
    clipped_share: float


@dataclasses.dataclass(frozen=True)
class ValidationReport:
    """A batch that passed validation.

    n_samples, n_channels   stored shape
    sampling_rate_hz        the declared rate (Hz); duration_s = n_samples / sampling_rate_hz
    channel_names           names to store (after the mapping), in order
    source_columns          the file column of each stored channel
    channels                one ChannelSummary per stored channel
    ignored_columns         file columns not selected by the mapping
    rpm                     shaft speed from the file (rev/min) or None
    warnings                non-fatal remarks (e.g. the file name suggests another sampling rate)
    """

    n_samples: int
    n_channels: int
    sampling_rate_hz: float
    duration_s: float
    channel_names: tuple[str, ...]
    source_columns: tuple[int, ...]
    channels: tuple[ChannelSummary, ...]
    ignored_columns: tuple[str, ...] = ()
    rpm: float | None = None
    warnings: tuple[str, ...] = ()

    def extract_float32(self, table: SignalTable, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
        """The stored channels of ``table`` as a C-contiguous float32 array (n_samples, n_channels),
        ready for ``encode_batch``; written chunk by chunk (no float64 copy of the whole table)."""
        columns = list(self.source_columns)
        out = np.empty((self.n_samples, len(columns)), dtype=np.float32)
        rows = _chunk_rows(table, chunk_bytes)
        for start in range(0, self.n_samples, rows):
            out[start : start + rows] = table.samples[start : start + rows][:, columns]
        return out


def _chunk_rows(table: SignalTable, chunk_bytes: int) -> int:
    row_bytes = max(1, table.samples.shape[1]) * table.samples.dtype.itemsize
    return max(1024, chunk_bytes // row_bytes)


def _resolve_channels(
    table: SignalTable,
    channel_mapping: Mapping[str, str] | None,
    expected_channels: Sequence[str] | None,
) -> tuple[list[int], list[str], BatchValidationError | None]:
    """Columns to store and their names, or the mapping error (raised later, at step 7)."""
    names = list(table.channel_names)
    if channel_mapping is not None:
        columns: list[int] = []
        targets: list[str] = []
        for source_name, target in channel_mapping.items():
            if source_name not in names:
                return [], [], ChannelMappingError(
                    f"the channel mapping refers to column {source_name!r}, which the file does not have "
                    f"(file columns: {names})",
                    channel=source_name,
                    code="mapping_missing_column",
                )
            if names.count(source_name) > 1:
                return [], [], ChannelMappingError(
                    f"the file has more than one column named {source_name!r}",
                    column=names.index(source_name),
                    channel=source_name,
                    code="duplicate_column",
                )
            if not isinstance(target, str) or not target:
                return [], [], ChannelMappingError(
                    f"column {source_name!r} is mapped to an invalid channel name {target!r}",
                    channel=source_name,
                    code="mapping_invalid_target",
                )
            if target in targets:
                return [], [], ChannelMappingError(
                    f"two columns are mapped to channel {target!r}",
                    column=names.index(source_name),
                    channel=target,
                    code="mapping_duplicate_target",
                )
            columns.append(names.index(source_name))
            targets.append(target)
    else:
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            return [], [], ChannelMappingError(
                f"the file names columns {duplicates} more than once",
                column=names.index(duplicates[0]),
                channel=duplicates[0],
                code="duplicate_column",
            )
        columns, targets = list(range(len(names))), list(names)

    if expected_channels is not None:
        expected = list(expected_channels)
        if len(set(expected)) != len(expected):
            raise ValueError(f"expected_channels has duplicates: {expected}")
        if channel_mapping is None and table.generated_names and len(targets) == len(expected):
            targets = expected  # unnamed columns are taken positionally
        if len(targets) != len(expected):
            return [], [], ChannelMismatchError(
                f"the batch has {len(targets)} channels ({targets}); the press expects {len(expected)} ({expected})",
                code="channel_count",
            )
        if set(targets) != set(expected):
            missing = [name for name in expected if name not in targets]
            unexpected = [name for name in targets if name not in expected]
            return [], [], ChannelMismatchError(
                f"the batch's channels do not match the press: missing {missing}, unexpected {unexpected}",
                channel=(missing or unexpected)[0],
            )
        order = [targets.index(name) for name in expected]
        columns, targets = [columns[index] for index in order], expected
    return columns, targets, None


class _RunCounter:
    """Counts samples in runs of >= min_run consecutive True values, fed chunk by chunk."""

    __slots__ = ("min_run", "count", "first_row", "open_length", "open_start")

    def __init__(self, min_run: int):
        self.min_run = min_run
        self.count = 0
        self.first_row: int | None = None
        self.open_length = 0
        self.open_start = 0

    def _close_open_run(self) -> None:
        if self.open_length >= self.min_run:
            self.count += self.open_length
            if self.first_row is None:
                self.first_row = self.open_start
        self.open_length = 0

    def feed(self, mask: np.ndarray, offset: int) -> None:
        if not mask.any():
            self._close_open_run()
            return
        edges = np.diff(mask.view(np.int8), prepend=np.int8(0), append=np.int8(0))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)
        lengths = ends - starts
        starts = starts + offset
        if self.open_length and starts[0] == offset:
            lengths[0] += self.open_length
            starts[0] = self.open_start
        else:
            self._close_open_run()
        self.open_length = 0
        if ends[-1] == mask.shape[0]:  # the last run may continue into the next chunk
            self.open_length, self.open_start = int(lengths[-1]), int(starts[-1])
            lengths, starts = lengths[:-1], starts[:-1]
        qualifying = lengths >= self.min_run
        if qualifying.any():
            self.count += int(lengths[qualifying].sum())
            if self.first_row is None:
                self.first_row = int(starts[qualifying][0])

    def finish(self) -> None:
        self._close_open_run()


def validate_signal_table(
    table: SignalTable,
    *,
    sampling_rate_hz: float,
    min_samples: int,
    channel_mapping: Mapping[str, str] | None = None,
    expected_channels: Sequence[str] | None = None,
    clip_share_limit: float = 0.01,
    full_scale: float | Mapping[str, float] | None = None,
    min_clip_run: int = 3,
    dead_channel_ptp: float = 0.0,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> ValidationReport:
    """Validate a whole batch (see the module docstring for the checks, their order and definitions).

    table              the SignalTable from a reader
    sampling_rate_hz   the declared sampling rate (Hz)
    min_samples        the least number of samples accepted
    channel_mapping    {file column name: stored channel name}; unmapped columns are ignored
    expected_channels  the press's channel names; the stored channels must be exactly these
                       (unnamed files are mapped positionally when the counts agree)
    clip_share_limit   largest accepted share (0..1) of clipped samples per channel
    full_scale         rail level(s) in signal units: one value, or {stored channel name: level}
    min_clip_run       run length (samples) at the channel's own extreme that counts as clipping
    dead_channel_ptp   a channel whose max - min is <= this is dead (constant)
    Returns a ValidationReport; raises a BatchValidationError subclass for the first failed check.
    """
    if min_samples < 1:
        raise ValueError("min_samples must be >= 1")
    if min_clip_run < 1:
        raise ValueError("min_clip_run must be >= 1")
    samples = table.samples
    n_samples, n_columns = samples.shape

    # 1, 2: shape
    if n_samples == 0 or n_columns == 0:
        raise EmptySignalError(f"the signal is empty ({n_samples} samples x {n_columns} channels)")
    if n_samples < min_samples:
        raise SignalTooShortError(
            f"the signal has {n_samples} samples; at least {min_samples} are required"
        )

    columns, names, channel_error = _resolve_channels(table, channel_mapping, expected_channels)
    if channel_error is not None:
        columns, names = list(range(n_columns)), list(table.channel_names)
    all_columns = columns == list(range(n_columns))
    n_selected = len(columns)
    rows = _chunk_rows(table, chunk_bytes)

    levels = np.full(n_selected, np.inf)
    if isinstance(full_scale, Mapping):
        for index, name in enumerate(names):
            if name in full_scale:
                levels[index] = float(full_scale[name])
    elif full_scale is not None:
        levels[:] = float(full_scale)
    declared = np.isfinite(levels)

    def chunks():
        for start in range(0, n_samples, rows):
            block = samples[start : start + rows]
            yield start, (block if all_columns else block[:, columns])

    # 3: non-finite values, and the statistics of the same pass
    minimum = np.full(n_selected, np.inf)
    maximum = np.full(n_selected, -np.inf)
    total = np.zeros(n_selected)
    total_squares = np.zeros(n_selected)
    clipped = np.zeros(n_selected, dtype=np.int64)
    first_clipped: list[int | None] = [None] * n_selected
    for start, block in chunks():
        finite = np.isfinite(block)
        if not finite.all():
            row = int(np.flatnonzero(~finite.all(axis=1))[0])
            position = int(np.flatnonzero(~finite[row])[0])
            value = block[row, position]
            raise NonFiniteValueError(
                f"{value} at sample row {start + row}, column {columns[position]} (channel {names[position]!r})",
                row=start + row,
                column=columns[position],
                channel=names[position],
            )
        wide = block.astype(np.float64, copy=False)
        np.minimum(minimum, wide.min(axis=0), out=minimum)
        np.maximum(maximum, wide.max(axis=0), out=maximum)
        total += wide.sum(axis=0)
        total_squares += np.einsum("ij,ij->j", wide, wide)
        if declared.any():
            at_rail = np.abs(wide[:, declared]) >= levels[declared]
            clipped[declared] += at_rail.sum(axis=0)
            for local, index in enumerate(np.flatnonzero(declared)):
                if first_clipped[index] is None and at_rail[:, local].any():
                    first_clipped[index] = start + int(np.argmax(at_rail[:, local]))

    # 4: dead channels
    for index in range(n_selected):
        if maximum[index] - minimum[index] <= dead_channel_ptp:
            raise DeadChannelError(
                f"channel {names[index]!r} (column {columns[index]}) is constant at {minimum[index]:g}: "
                f"the sensor or its cable is dead",
                column=columns[index],
                channel=names[index],
            )

    # 5: clipping
    run_based = np.flatnonzero(~declared)
    if run_based.size:
        counters = {(index, side): _RunCounter(min_clip_run) for index in run_based for side in (0, 1)}
        for start, block in chunks():
            for index in run_based:
                column = block[:, index]
                counters[index, 0].feed(column == maximum[index], start)
                counters[index, 1].feed(column == minimum[index], start)
        for index in run_based:
            for side in (0, 1):
                counter = counters[index, side]
                counter.finish()
                clipped[index] += counter.count
                if counter.first_row is not None:
                    earlier = first_clipped[index]
                    first_clipped[index] = counter.first_row if earlier is None else min(earlier, counter.first_row)
    shares = clipped / n_samples
    for index in range(n_selected):
        if shares[index] > clip_share_limit:
            rule = (
                f"|x| >= full scale {levels[index]:g}"
                if declared[index]
                else f"runs of >= {min_clip_run} samples at the channel's max {maximum[index]:g} or min {minimum[index]:g}"
            )
            raise ClippedSignalError(
                f"channel {names[index]!r} (column {columns[index]}) is clipped: {shares[index]:.2%} of its samples "
                f"({rule}) exceed the limit of {clip_share_limit:.2%}; first clipped sample at row {first_clipped[index]}",
                row=first_clipped[index],
                column=columns[index],
                channel=names[index],
            )

    # 6: sampling rate
    try:
        rate = float(sampling_rate_hz)
    except (TypeError, ValueError):
        rate = math.nan
    if not (MIN_SAMPLING_RATE_HZ <= rate <= MAX_SAMPLING_RATE_HZ):
        raise SamplingRateError(
            f"sampling rate {sampling_rate_hz!r} Hz is outside {MIN_SAMPLING_RATE_HZ:g} Hz .. "
            f"{MAX_SAMPLING_RATE_HZ:g} Hz"
        )

    # 7: channels
    if channel_error is not None:
        raise channel_error

    warnings: list[str] = []
    hint = table.sampling_rate_hint_hz
    if hint and abs(hint - rate) > RATE_HINT_TOLERANCE * rate:
        warnings.append(f"the file suggests a sampling rate of {hint:g} Hz; {rate:g} Hz was declared")
    selected = set(columns)
    ignored = tuple(name for index, name in enumerate(table.channel_names) if index not in selected)
    if ignored:
        warnings.append(f"columns not mapped and not stored: {list(ignored)}")

    rms = np.sqrt(total_squares / n_samples)
    peak = np.maximum(np.abs(minimum), np.abs(maximum))
    summaries = tuple(
        ChannelSummary(
            name=names[index],
            source_column=columns[index],
            rms=float(rms[index]),
            peak=float(peak[index]),
            crest_factor=float(peak[index] / rms[index]),  # rms > 0: constant channels were rejected
            mean=float(total[index] / n_samples),
            minimum=float(minimum[index]),
            maximum=float(maximum[index]),
            clipped_share=float(shares[index]),
        )
        for index in range(n_selected)
    )
    return ValidationReport(
        n_samples=int(n_samples),
        n_channels=n_selected,
        sampling_rate_hz=rate,
        duration_s=n_samples / rate,
        channel_names=tuple(names),
        source_columns=tuple(columns),
        channels=summaries,
        ignored_columns=ignored,
        rpm=table.rpm,
        warnings=tuple(warnings),
    )
