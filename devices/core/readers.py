"""Readers for uploaded signal files: CSV, NumPy .npy / .npz, MATLAB v5 .mat, Parquet.

Each reader takes a path (``str`` / ``os.PathLike``), a seekable binary file object (e.g. a Django
``UploadedFile``) or ``bytes``, and returns a ``SignalTable`` with rows = samples and columns =
channels. A file that is not what its extension claims, or is truncated or corrupt, raises
``SignalFormatError`` with a message naming the problem. Pass a path for large files: ``.npy`` is then
memory-mapped and Parquet read with a memory map, so the samples are not held twice.

Layouts understood
------------------
CSV      one column per channel; an optional header row is detected (a first row with a non-numeric
         field); delimiter ``,`` ``;`` or tab, detected from the first row; a first header column
         named ``time``/``t``/``time_s``/``timestamp_s`` is a time axis in seconds, used for the
         sampling-rate hint and not as a channel. Parsed by ``pyarrow.csv`` (multi-threaded C++).
.npy     1-D (one channel) or 2-D (n_samples, n_channels) real numeric array.
.npz     either ``samples`` (1-D/2-D) with optional ``channel_names``, ``sampling_rate_hz``, ``rpm``
         (the layout ``encode_batch`` writes), or one 1-D array per channel named by its key (plus
         optional scalars ``sampling_rate_hz``/``fs``/``rpm``), or a single 2-D array.
.mat     MATLAB v5 (``scipy.io.loadmat``). Case Western Reserve University bearing files are
         recognised: ``X<nnn>_DE_time``, ``X<nnn>_FE_time``, ``X<nnn>_BA_time`` become channels
         ``DE``, ``FE``, ``BA``; ``X<nnn>RPM`` becomes ``rpm``; a file name ``12k_...``/``48k_...``
         gives the sampling-rate hint 12 000 / 48 000 Hz and ``normal_...`` 48 000 Hz (see
         ../shared/data/README.md). Other .mat files: one vector variable per channel (plus optional
         scalars ``fs``/``sampling_rate_hz``/``rpm``) or a single 2-D matrix. v7.3 (HDF5) files are
         refused with a message saying so.
Parquet  one numeric column per channel; an optional time column as for CSV; schema metadata key
         ``sampling_rate_hz`` gives the hint.
"""
from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Union

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet
import scipy.io

from .errors import SignalFormatError
from .table import MAX_CHANNELS, SignalTable

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "cwru_sampling_rate_hint",
    "read_csv",
    "read_mat",
    "read_npy",
    "read_npz",
    "read_parquet",
    "read_signal_file",
]

Source = Union[str, os.PathLike, IO[bytes], bytes]

TIME_COLUMN_NAMES = frozenset({"time", "t", "time_s", "timestamp_s"})
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_PARQUET_MAGIC = b"PAR1"
_CSV_SNIFF_BYTES = 64 * 1024

_CWRU_CHANNEL = re.compile(r"X(\d+)_(DE|FE|BA)_time")
_CWRU_RPM = re.compile(r"X(\d+)RPM")
_CWRU_FAULT_NAME = re.compile(
    r"(?P<rate>\d+)k_(?P<end>Drive|Fan)_End_(?P<fault>IR|OR|B)(?P<size>\d{3})(?:@(?P<position>\d+))?"
    r"_(?P<load>\d+)_(?P<record>\d+)\.mat",
    re.IGNORECASE,
)
_CWRU_NORMAL_NAME = re.compile(r"normal_(?P<load>\d+)_(?P<record>\d+)\.mat", re.IGNORECASE)
_CWRU_CHANNEL_ORDER = ("DE", "FE", "BA")
_SCALAR_RATE_NAMES = ("sampling_rate_hz", "fs")


# --- source handling ------------------------------------------------------------------------------


def _as_path(source: Source) -> Path | None:
    return Path(source) if isinstance(source, (str, os.PathLike)) else None


def _as_stream(source: Source) -> IO[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    return source  # type: ignore[return-value]


def _head_and_tail(source: Source, head: int, tail: int = 0) -> tuple[bytes, bytes, int]:
    """First ``head`` and last ``tail`` bytes and the size, leaving a stream at position 0."""
    path = _as_path(source)
    if path is not None:
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                first = handle.read(head)
                last = b""
                if tail and size >= tail:
                    handle.seek(size - tail)
                    last = handle.read(tail)
        except OSError as exc:
            raise SignalFormatError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
        return first, last, size
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return data[:head], data[-tail:] if tail and len(data) >= tail else b"", len(data)
    stream = source
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    first = stream.read(head)
    last = b""
    if tail and size >= tail:
        stream.seek(size - tail)
        last = stream.read(tail)
    stream.seek(0)
    return first, last, size


def _describe(head: bytes) -> str:
    """A short guess at what the bytes are, for error messages."""
    if not head:
        return "the file is empty"
    if head.startswith(_NPY_MAGIC):
        return "it looks like a NumPy .npy file"
    if head.startswith(_ZIP_MAGICS):
        return "it looks like a ZIP/.npz archive"
    if head.startswith(_PARQUET_MAGIC):
        return "it looks like a Parquet file"
    if head.startswith(b"MATLAB"):
        return "it looks like a MATLAB .mat file"
    if b"\x00" not in head[:1024]:
        return "it looks like text"
    return "unrecognised binary content"


def _channel_names(count: int) -> tuple[str, ...]:
    return tuple(f"ch{index}" for index in range(count))


def _as_float_samples(array: np.ndarray, what: str) -> np.ndarray:
    """Native-endian float32/float64 without copying when it already is; ints -> float64."""
    if array.dtype.fields is not None:
        raise SignalFormatError(f"{what} is a structured array; save a plain 2-D numeric array (samples x channels)")
    kind = array.dtype.kind
    if kind not in "fiu":
        raise SignalFormatError(f"{what} has dtype {array.dtype}; expected real numbers (float or integer)")
    if array.dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        return array
    if kind == "f" and array.dtype.itemsize <= 4:
        return array.astype(np.float32)
    return array.astype(np.float64)


def _check_shape(samples: np.ndarray, what: str) -> np.ndarray:
    if samples.ndim == 1:
        samples = samples.reshape(-1, 1)
    if samples.ndim != 2:
        raise SignalFormatError(f"{what} has {samples.ndim} dimensions; expected 1-D or 2-D (samples x channels)")
    if samples.shape[1] > MAX_CHANNELS:
        raise SignalFormatError(
            f"{what} has shape {samples.shape}: {samples.shape[1]} channels is more than {MAX_CHANNELS}; "
            f"rows must be samples and columns channels (is it transposed?)"
        )
    return samples


def _rate_from_time(time_s: np.ndarray) -> float | None:
    steps = np.diff(np.asarray(time_s[:100_001], dtype=np.float64))
    steps = steps[np.isfinite(steps)]
    if steps.size == 0:
        return None
    step = float(np.median(steps))
    return 1.0 / step if step > 0 else None


def _extension(source: Source, filename: str | None) -> str:
    name = filename or (str(source) if _as_path(source) is not None else getattr(source, "name", "") or "")
    return Path(str(name)).suffix.lower()


# --- Arrow tables (CSV, Parquet) ------------------------------------------------------------------


def _arrow_to_samples(table: pa.Table, names: list[str], source_format: str) -> np.ndarray:
    """Copy Arrow columns into one (n_samples, n_channels) array, chunk by chunk (no intermediate copies)."""
    for index, field in enumerate(table.schema):
        if not (pa.types.is_floating(field.type) or pa.types.is_integer(field.type)):
            raise SignalFormatError(
                f"{source_format} column {index} ({names[index]!r}) has type {field.type}; every channel column "
                f"must be numeric",
                column=index,
                channel=names[index],
            )
    all_float32 = all(pa.types.is_float32(field.type) for field in table.schema)
    samples = np.empty((table.num_rows, table.num_columns), dtype=np.float32 if all_float32 else np.float64)
    for index, column in enumerate(table.columns):
        offset = 0
        for chunk in column.chunks:
            stop = offset + len(chunk)
            # Nulls (empty CSV fields) become NaN, so validation reports their position.
            samples[offset:stop, index] = chunk.to_numpy(zero_copy_only=False)
            offset = stop
    return samples


def _split_time_column(table: pa.Table, names: list[str]) -> tuple[pa.Table, list[str], float | None]:
    if names and names[0].strip().lower() in TIME_COLUMN_NAMES and table.num_columns > 1:
        time_column = table.column(0)
        hint = None
        if pa.types.is_floating(time_column.type) or pa.types.is_integer(time_column.type):
            hint = _rate_from_time(time_column.slice(0, 100_001).to_numpy(zero_copy_only=False))
        return table.remove_column(0), names[1:], hint
    return table, names, None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_FLOAT_PATTERN = r"^\s*[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|nan|inf|infinity)\s*$"


def _csv_input(source: Source) -> Any:
    path = _as_path(source)
    return str(path) if path is not None else _as_stream(source)


def _locate_bad_csv_value(source: Source, column_names: list[str], skip_rows: int, delimiter: str):
    """Find the first unparseable cell (failure path only): returns (row, column, text) or None."""
    import pyarrow.compute as pc

    try:
        strings = pa_csv.read_csv(
            _csv_input(source),
            read_options=pa_csv.ReadOptions(column_names=column_names, skip_rows=skip_rows),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter),
            convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in column_names}),
        )
    except (pa.ArrowInvalid, OSError):
        return None
    for index, column in enumerate(strings.columns):
        ok = pc.or_kleene(pc.is_null(column), pc.match_substring_regex(column, _FLOAT_PATTERN, ignore_case=True))
        ok = ok.to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(~ok.astype(bool))
        if bad.size:
            row = int(bad[0])
            return row, index, column[row].as_py()
    return None


def read_csv(source: Source, *, delimiter: str | None = None, has_header: bool | None = None) -> SignalTable:
    """Read a CSV of one column per channel (see the module docstring). ``delimiter`` and
    ``has_header`` override the detection. Raises SignalFormatError."""
    head, _, size = _head_and_tail(source, _CSV_SNIFF_BYTES)
    if size == 0:
        raise SignalFormatError("the CSV file is empty")
    if b"\x00" in head[:4096]:
        raise SignalFormatError(f"not a CSV text file: {_describe(head)}")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut by the sniff window
            raise SignalFormatError(f"not a UTF-8 CSV text file (invalid byte at offset {exc.start})") from exc
        text = head[: exc.start].decode("utf-8")
    text = text.lstrip("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise SignalFormatError("the CSV file holds no data rows")
    first_line = lines[0]
    if delimiter is None:
        counts = {candidate: first_line.count(candidate) for candidate in (",", ";", "\t")}
        delimiter = max(counts, key=counts.get) if max(counts.values()) else ","
    first_fields = next(csv.reader([first_line], delimiter=delimiter))
    if has_header is None:
        has_header = any(field.strip() and not _is_number(field) for field in first_fields)
    n_columns = len(first_fields)
    if n_columns > MAX_CHANNELS + 1:
        raise SignalFormatError(f"the CSV has {n_columns} columns; at most {MAX_CHANNELS} channels are supported")
    internal = [f"c{index}" for index in range(n_columns)]
    if has_header:
        names = [field.strip() or f"ch{index}" for index, field in enumerate(first_fields)]
    else:
        names = list(_channel_names(n_columns))
    skip_rows = 1 if has_header else 0
    # A BOM is skipped by pyarrow itself; the header row is skipped explicitly.
    try:
        table = pa_csv.read_csv(
            _csv_input(source),
            read_options=pa_csv.ReadOptions(column_names=internal, skip_rows=skip_rows),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter),
            convert_options=pa_csv.ConvertOptions(column_types={name: pa.float64() for name in internal}),
        )
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "conversion error" in message:
            if hasattr(source, "seek"):
                source.seek(0)
            located = _locate_bad_csv_value(source, internal, skip_rows, delimiter)
            if located is not None:
                row, column, value = located
                raise SignalFormatError(
                    f"CSV line {row + skip_rows + 1}, column {column} ({names[column]!r}): {value!r} is not a number",
                    row=row,
                    column=column,
                    channel=names[column],
                ) from exc
        raise SignalFormatError(f"cannot parse the CSV: {message}") from exc
    except OSError as exc:
        raise SignalFormatError(f"cannot read the CSV: {exc}") from exc
    table, names, hint = _split_time_column(table, names) if has_header else (table, names, None)
    samples = _arrow_to_samples(table, names, "CSV")
    del table
    return SignalTable(
        channel_names=tuple(names),
        samples=samples,
        sampling_rate_hint_hz=hint,
        source_format="csv",
        generated_names=not has_header,
        metadata={"delimiter": delimiter, "header": has_header},
    )


def read_parquet(source: Source) -> SignalTable:
    """Read a Parquet file of one numeric column per channel. Raises SignalFormatError."""
    head, tail, size = _head_and_tail(source, 4, 4)
    if not head.startswith(_PARQUET_MAGIC):
        raise SignalFormatError(f"not a Parquet file (no PAR1 header): {_describe(head)}")
    if tail != _PARQUET_MAGIC:
        raise SignalFormatError(f"the Parquet file is truncated or corrupt: no PAR1 footer ({size} bytes)")
    try:
        path = _as_path(source)
        table = pa_parquet.read_table(str(path) if path is not None else _as_stream(source), memory_map=path is not None)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise SignalFormatError(f"the Parquet file is corrupt: {exc}") from exc
    if table.num_columns == 0:
        raise SignalFormatError("the Parquet file has no columns")
    names = list(table.column_names)
    table, names, hint = _split_time_column(table, names)
    schema_metadata = table.schema.metadata or {}
    if hint is None and b"sampling_rate_hz" in schema_metadata:
        try:
            hint = float(schema_metadata[b"sampling_rate_hz"])
        except ValueError:
            hint = None
    samples = _check_shape(_arrow_to_samples(table, names, "Parquet"), "the Parquet table")
    return SignalTable(
        channel_names=tuple(names), samples=samples, sampling_rate_hint_hz=hint, source_format="parquet"
    )


# --- NumPy -------------------------------------------------------------------------------------------


def _check_npy_header(source: Source, size: int) -> None:
    """Refuse object arrays and truncated data from the header alone, with a precise message."""
    path = _as_path(source)
    handle = open(path, "rb") if path is not None else _as_stream(source)
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        data_offset = handle.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise SignalFormatError(f"the .npy header is corrupt: {exc}") from exc
    finally:
        if path is not None:
            handle.close()
        else:
            handle.seek(0)
    if dtype.hasobject:
        raise SignalFormatError("the .npy array holds Python objects (pickled data); only numeric arrays are accepted")
    expected = data_offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size < expected:
        raise SignalFormatError(
            f"the .npy file is truncated: its header announces shape {shape} {dtype} ({expected} bytes), "
            f"the file has {size} bytes"
        )


def read_npy(source: Source) -> SignalTable:
    """Read a .npy array (1-D, or 2-D samples x channels); memory-mapped read-only for a path.
    Raises SignalFormatError."""
    head, _, size = _head_and_tail(source, 8)
    if not head.startswith(_NPY_MAGIC):
        raise SignalFormatError(f"not a NumPy .npy file (magic bytes missing): {_describe(head)}")
    path = _as_path(source)
    _check_npy_header(source, size)
    try:
        if path is not None:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        else:
            array = np.load(_as_stream(source), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise SignalFormatError(f"the .npy file is truncated or corrupt ({size} bytes): {exc}") from exc
    samples = _check_shape(_as_float_samples(array, "the .npy array"), "the .npy array")
    return SignalTable(
        channel_names=_channel_names(samples.shape[1]), samples=samples, source_format="npy", generated_names=True
    )


def _scalar(value: np.ndarray) -> float | None:
    if value.size == 1 and value.dtype.kind in "fiu":
        return float(value.reshape(-1)[0])
    return None


def _stack_vectors(vectors: Mapping[str, np.ndarray], what: str) -> np.ndarray:
    lengths = {name: vector.shape[0] for name, vector in vectors.items()}
    if len(set(lengths.values())) > 1:
        raise SignalFormatError(f"{what} channels have different lengths: {lengths}")
    dtypes = {vector.dtype for vector in vectors.values()}
    dtype = np.float32 if dtypes == {np.dtype(np.float32)} else np.float64
    samples = np.empty((next(iter(lengths.values())), len(vectors)), dtype=dtype)
    for index, vector in enumerate(vectors.values()):
        samples[:, index] = vector
    return samples


def _vector(array: np.ndarray) -> np.ndarray | None:
    """A 1-D view of a vector-shaped array ((n,), (n,1), (1,n)), else None."""
    if array.ndim == 1:
        return array
    if array.ndim == 2 and 1 in array.shape:
        return array.reshape(-1)
    return None


def read_npz(source: Source) -> SignalTable:
    """Read a .npz archive (layouts in the module docstring; never unpickles). Raises SignalFormatError."""
    head, _, size = _head_and_tail(source, 4)
    if not head.startswith(_ZIP_MAGICS):
        raise SignalFormatError(f"not a NumPy .npz archive (no ZIP header): {_describe(head)}")
    path = _as_path(source)
    try:
        with np.load(path if path is not None else _as_stream(source), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise SignalFormatError(f"the .npz archive is truncated or corrupt ({size} bytes): {exc}") from exc
    except Exception as exc:  # zlib.error and friends from a damaged member
        raise SignalFormatError(f"the .npz archive is corrupt: {exc}") from exc
    if not arrays:
        raise SignalFormatError("the .npz archive holds no arrays")

    hint = next((_scalar(arrays.pop(name)) for name in _SCALAR_RATE_NAMES if name in arrays), None)
    rpm = _scalar(arrays.pop("rpm")) if "rpm" in arrays else None
    generated = False
    if "samples" in arrays:
        samples = _check_shape(_as_float_samples(arrays.pop("samples"), "'samples'"), "'samples'")
        names_array = arrays.pop("channel_names", None)
        if names_array is None:
            names, generated = _channel_names(samples.shape[1]), True
        else:
            if names_array.dtype.kind != "U" or names_array.ndim != 1 or names_array.shape[0] != samples.shape[1]:
                raise SignalFormatError(
                    f"'channel_names' must be {samples.shape[1]} strings, "
                    f"got dtype {names_array.dtype} shape {names_array.shape}"
                )
            names = tuple(str(name) for name in names_array)
    elif len(arrays) == 1 and next(iter(arrays.values())).ndim == 2 and _vector(next(iter(arrays.values()))) is None:
        samples = _check_shape(_as_float_samples(next(iter(arrays.values())), "the .npz array"), "the .npz array")
        names, generated = _channel_names(samples.shape[1]), True
    else:
        vectors: dict[str, np.ndarray] = {}
        for name, array in arrays.items():
            vector = _vector(array)
            if vector is None:
                raise SignalFormatError(
                    f".npz array {name!r} has shape {array.shape}; expected one 1-D array per channel, or 'samples'"
                )
            vectors[name] = _as_float_samples(vector, f".npz array {name!r}")
        samples = _check_shape(_stack_vectors(vectors, "the .npz"), "the .npz arrays")
        names = tuple(vectors)
    return SignalTable(
        channel_names=names, samples=samples, sampling_rate_hint_hz=hint, rpm=rpm, source_format="npz",
        generated_names=generated,
    )


# --- MATLAB ------------------------------------------------------------------------------------------


def cwru_sampling_rate_hint(filename: str) -> float | None:
    """Sampling rate (Hz) implied by a CWRU file name: ``12k_...`` 12 000, ``48k_...`` 48 000,
    ``normal_...`` 48 000 (the healthy baseline records are sampled at 48 kHz); else None."""
    name = Path(filename).name
    match = re.match(r"(\d+)k_", name)
    if match:
        return float(int(match.group(1)) * 1000)
    if _CWRU_NORMAL_NAME.fullmatch(name) or name.lower().startswith("normal_"):
        return 48_000.0
    return None


def _cwru_file_facts(filename: str) -> dict[str, Any]:
    name = Path(filename).name
    match = _CWRU_FAULT_NAME.fullmatch(name)
    if match:
        facts: dict[str, Any] = {
            "record": int(match["record"]),
            "fault": match["fault"].upper(),
            "fault_size_mils": int(match["size"]),
            "load_hp": int(match["load"]),
            "sensor_end": match["end"].lower(),
        }
        if match["position"]:
            facts["outer_race_position"] = f"@{match['position']}"
        return facts
    match = _CWRU_NORMAL_NAME.fullmatch(name)
    if match:
        return {"record": int(match["record"]), "fault": "normal", "load_hp": int(match["load"])}
    return {}


def _read_cwru(variables: dict[str, np.ndarray], filename: str) -> SignalTable | None:
    records: dict[int, dict[str, np.ndarray]] = {}
    rpms: dict[int, float | None] = {}
    for name, value in variables.items():
        match = _CWRU_CHANNEL.fullmatch(name)
        if match:
            records.setdefault(int(match.group(1)), {})[match.group(2)] = value
            continue
        match = _CWRU_RPM.fullmatch(name)
        if match:
            rpms[int(match.group(1))] = _scalar(value)
    if not records:
        return None
    facts = _cwru_file_facts(filename)
    if len(records) == 1:
        record = next(iter(records))
    elif facts.get("record") in records:
        record = facts["record"]
    else:
        raise SignalFormatError(
            f"the .mat file holds several CWRU records ({', '.join(f'X{r:03d}' for r in sorted(records))}) and "
            f"its name does not say which one to use"
        )
    channels = records[record]
    vectors: dict[str, np.ndarray] = {}
    for channel in _CWRU_CHANNEL_ORDER:
        if channel in channels:
            vector = _vector(channels[channel])
            if vector is None:
                raise SignalFormatError(f"CWRU variable X{record:03d}_{channel}_time is not a vector")
            vectors[channel] = _as_float_samples(vector, f"X{record:03d}_{channel}_time")
    rpm = rpms.get(record)
    if rpm is None and len(rpms) == 1:
        rpm = next(iter(rpms.values()))
    return SignalTable(
        channel_names=tuple(vectors),
        samples=_stack_vectors(vectors, "the CWRU record's"),
        sampling_rate_hint_hz=cwru_sampling_rate_hint(filename) if filename else None,
        rpm=rpm,
        source_format="mat",
        metadata={"cwru": {**facts, "record": record}, "variables": sorted(variables)},
    )


def read_mat(source: Source, *, filename: str | None = None) -> SignalTable:
    """Read a MATLAB v5 .mat file; CWRU bearing files map automatically (see the module docstring).

    ``filename`` is the original file name (for the CWRU sampling-rate hint and record choice) when
    ``source`` is not a path. Raises SignalFormatError.
    """
    head, _, size = _head_and_tail(source, 128)
    if size == 0:
        raise SignalFormatError("the .mat file is empty")
    if head.startswith((_NPY_MAGIC, _PARQUET_MAGIC) + _ZIP_MAGICS):
        raise SignalFormatError(f"not a MATLAB .mat file: {_describe(head)}")
    path = _as_path(source)
    filename = filename or (path.name if path is not None else getattr(source, "name", "") or "")
    try:
        variables = scipy.io.loadmat(path if path is not None else _as_stream(source), squeeze_me=False)
    except NotImplementedError as exc:
        raise SignalFormatError("MATLAB v7.3 (HDF5) files are not supported; save the file with -v7") from exc
    except Exception as exc:  # scipy raises ValueError, OSError, IndexError, TypeError ... on damaged input
        raise SignalFormatError(f"not a readable MATLAB v5 .mat file ({size} bytes; truncated or corrupt?): {exc}") from exc
    variables = {
        name: value for name, value in variables.items()
        if not name.startswith("__") and isinstance(value, np.ndarray)
    }
    cwru = _read_cwru(variables, filename)
    if cwru is not None:
        return cwru

    numeric = {name: value for name, value in variables.items() if value.dtype.kind in "fiu" and value.size > 0}
    hint = next((_scalar(numeric.pop(name)) for name in _SCALAR_RATE_NAMES if name in numeric), None)
    rpm = _scalar(numeric.pop("rpm")) if "rpm" in numeric else None
    numeric = {name: value for name, value in numeric.items() if value.size > 1}
    if not numeric:
        raise SignalFormatError(f"the .mat file holds no numeric signal variables (found: {sorted(variables) or 'none'})")
    matrices = {name: value for name, value in numeric.items() if _vector(value) is None}
    if matrices:
        if len(numeric) != 1:
            raise SignalFormatError(
                f"the .mat file mixes matrices ({sorted(matrices)}) with other variables; use one vector per "
                f"channel or a single samples x channels matrix"
            )
        name, matrix = next(iter(matrices.items()))
        samples = _check_shape(_as_float_samples(matrix, f"variable {name!r}"), f"variable {name!r}")
        names, generated = _channel_names(samples.shape[1]), True
    else:
        vectors = {name: _as_float_samples(_vector(value), f"variable {name!r}") for name, value in numeric.items()}
        samples = _check_shape(_stack_vectors(vectors, "the .mat"), "the .mat variables")
        names, generated = tuple(vectors), False
    return SignalTable(
        channel_names=names,
        samples=samples,
        sampling_rate_hint_hz=hint,
        rpm=rpm,
        source_format="mat",
        generated_names=generated,
        metadata={"variables": sorted(variables)},
    )


# --- dispatch ------------------------------------------------------------------------------------------

SUPPORTED_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".npy": "npy",
    ".npz": "npz",
    ".mat": "mat",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def read_signal_file(source: Source, *, filename: str | None = None) -> SignalTable:
    """Read any supported signal file, choosing the reader by extension.

    ``filename`` is the original name (needed when ``source`` is a file object or bytes). Raises
    SignalFormatError for an unsupported extension or a file that does not match it.
    """
    extension = _extension(source, filename)
    kind = SUPPORTED_EXTENSIONS.get(extension)
    if kind is None:
        supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise SignalFormatError(f"unsupported file type {extension or '(no extension)'!r}; supported: {supported}")
    if kind == "csv":
        return read_csv(source, delimiter="\t" if extension == ".tsv" else None)
    if kind == "npy":
        return read_npy(source)
    if kind == "npz":
        return read_npz(source)
    if kind == "mat":
        return read_mat(source, filename=filename)
    return read_parquet(source)
