"""Benchmark: sensor-batch upload through the HTTP API (CSV and NPY), against numpy load + savez_compressed.

Run:  .venv/bin/python bench/ingest.py [--samples 10000000] [--channels 2] [--repeats 1]
                                       [--write bench/results/ingest.md]

What one run does, in an isolated temporary directory (deleted at the end, also on error):

* environment: the temp dir is PRESSTRUST_VAR_DIR (SQLite database, batch storage, secrets and the
  filesystem broker's folders live there; no Celery worker runs), DJANGO_SETTINGS_MODULE is
  portal.settings.local with DEBUG=False, SENSOR_UPLOAD_MAX_BYTES=1 GiB (the default 200 MiB limit
  is raised so that large CSVs of the same samples fit) and FILE_UPLOAD_TEMP_DIR inside the temp dir;
  ``manage.py migrate``, then through the services: an enterprise, a manager with a password, one
  press per repeat with acceleration channels (unit g) named like the CSV columns, and an API token;
* data: float64 standard normal noise (seed 20261122), written as .npy (float64) and as a CSV with
  a header and the values rounded to 6 decimals (6-7 significant digits, like ``%.6f``);
* server: gunicorn, 1 sync worker, ``--timeout 600``, started afresh for every upload so that the
  worker's peak RSS (VmHWM in /proc/<worker>/status) belongs to that upload alone; its idle RSS is
  read after /healthz, a warm-up GET and a 20,000-sample warm-up upload of the same format have
  loaded every module (the first upload in a process imports the readers and validation);
* upload: ``POST /api/v1/presses/<id>/batches/`` with a streaming multipart body written with
  http.client only (Content-Length from preamble + file size + epilogue, the file sent in 1 MiB
  chunks, ``Authorization: Token ...``); timed from the request's first byte to the 201 response
  read; "body sent" is when the client's last byte was accepted (the sync worker reads the body as
  it parses it, so this is transfer + multipart parsing + the temporary upload file);
* baselines, in the same run on the same files: ``numpy.load`` (NPY) and ``numpy.loadtxt`` (CSV),
  each followed by ``astype(float32)`` and ``numpy.savez_compressed`` to a temp file; for reference
  ``pyarrow.csv.read_csv`` (multi-threaded) + the same. Timed without tracing, then run again under
  tracemalloc for their peak memory (for pyarrow, the peak of a fresh Arrow proxy pool the CSV is
  read into is shown beside it: tracemalloc does not see Arrow's allocator);
* breakdown: the steps of ``devices.services.batch_ingest`` re-run in this process on the same files
  (content hash, reader, validation, float32 extraction, compression, copy into storage), to show
  where the server's time goes.

Targets (from the issue): NPY ingest at least 0.5x the speed of numpy.load + numpy.savez_compressed
of the same data; server peak memory under 3x the raw sample size (n x channels x 8 bytes).
Wall-clock figures depend on what else runs on the machine; CPU times are printed alongside.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pa_csv  # noqa: E402

SEED = 20261122
RATE_HZ = 20_000.0
MB = 1e6
CHUNK = 1 << 20
PASSWORD = "bench-ingest-horse-42"
UPLOAD_LIMIT = 1 << 30
WARM_UP_SAMPLES = 20_000

SETUP_SCRIPT = '''\
import datetime as dt
import json
import sys

import django

django.setup()

from rest_framework.authtoken.models import Token

from accounts import services as accounts
from devices import services as devices

channels, presses, password = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
org = accounts.organization_create(actor=None, name="Bench Stamping GmbH", kind="enterprise", slug="bench-stamping")
user = accounts.user_create(actor=None, organization=org, role="enterprise_manager", username="bench-manager",
                            password=password, email="bench-manager@example.com")
ids = []
for index in range(presses):
    press = devices.press_register(
        actor=user, organization=org, name=f"Bench press {index + 1}", site="Bench plant", make="Schuler",
        model="MSD 400", rated_tonnage_t="400", stroke_rate_min_spm="10", stroke_rate_max_spm="40",
        commissioned_on=dt.date(2015, 3, 1),
        channels=[{"name": name, "kind": "acceleration", "unit": "g", "location": "crank housing"}
                  for name in channels])
    ids.append(press.pk)
token = Token.objects.create(user=user)
print(json.dumps({"token": token.key, "presses": ids}))
'''


# --- machine ------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024 / 2**30
    except OSError:
        pass
    return float("nan")


def proc_status(pid: int) -> dict[str, int]:
    """The kB fields of /proc/<pid>/status, in bytes (VmRSS, VmHWM, RssAnon, RssFile, ...)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            values[key] = int(parts[0]) * 1024
    return values


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class RssSampler:
    """Polls a process's RssAnon / RssFile while an upload runs (VmHWM gives the exact total peak)."""

    def __init__(self, pid: int, interval_s: float = 0.01):
        self.pid, self.interval_s = pid, interval_s
        self.peak_anon = self.peak_file = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status = proc_status(self.pid)
            except OSError:
                return
            self.peak_anon = max(self.peak_anon, status.get("RssAnon", 0))
            self.peak_file = max(self.peak_file, status.get("RssFile", 0))
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# --- environment and server ---------------------------------------------------------------------------


def portal_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "STORAGE_ROOT", "BROKER_DIR", "STATIC_ROOT", "DEFAULT_FILE_STORAGE",
                        "SECRET_KEY", "AUDIT_HMAC_KEYS", "AUDIT_HMAC_CURRENT", "PARTICIPANT_KEY_ENCRYPTION_KEY",
                        "PLATFORM_SIGNING_KEY_PEM"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "portal.settings.local",
        "PRESSTRUST_VAR_DIR": str(var_dir),
        "CELERY_BROKER_URL": "filesystem://",
        "SENSOR_UPLOAD_MAX_BYTES": str(UPLOAD_LIMIT),
        "FILE_UPLOAD_TEMP_DIR": str(var_dir / "upload-tmp"),
        "DEBUG": "False",
        "LOG_LEVEL": "WARNING",
    })
    return env


def setup_portal(var_dir: Path, env: dict[str, str], channels: list[str], presses: int) -> dict:
    for sub in ("upload-tmp", "storage", "broker/queue", "broker/control"):
        (var_dir / sub).mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
                   cwd=ROOT, env=env, check=True)
    out = subprocess.run([sys.executable, "-c", SETUP_SCRIPT, json.dumps(channels), str(presses), PASSWORD],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn with one sync worker, in its own process group; stopped by that group's id."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.worker_pid: int | None = None

    def start(self, timeout_s: float = 120.0) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "sync", "--timeout", "600",
             "--bind", f"127.0.0.1:{self.port}", "--chdir", str(ROOT), "--log-level", "warning",
             "portal.wsgi:application"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("GET", "/healthz")
                conn.getresponse().read()  # 503 without a worker is fine: the server answers
                conn.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer /healthz within {timeout_s:.0f} s") from None
                time.sleep(0.2)
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        if len(children) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {children}")
        self.worker_pid = int(children[0])

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log (the temp dir holding it is deleted when the run ends)."""
        try:
            return "server log:\n" + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None:
            self._log.close()
        self.proc = None

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()


def api_get(port: int, token: str, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Authorization": f"Token {token}", "Accept": "application/json"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def upload(port: int, token: str, press_id: int, path: Path, content_type: str, started_at: str) -> dict:
    """Stream one multipart upload; returns status, body and client-side timings."""
    boundary = f"----presstrust-bench-{secrets.token_hex(12)}"
    fields = {"sampling_rate_hz": f"{RATE_HZ:g}", "started_at": started_at}
    preamble = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items())
    preamble += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                 f"Content-Type: {content_type}\r\n\r\n").encode()
    epilogue = f"\r\n--{boundary}--\r\n".encode()
    length = len(preamble) + path.stat().st_size + len(epilogue)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    cpu_start = time.process_time()
    start = time.perf_counter()
    conn.putrequest("POST", f"/api/v1/presses/{press_id}/batches/")
    conn.putheader("Authorization", f"Token {token}")
    conn.putheader("Accept", "application/json")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    try:
        conn.send(preamble)
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                conn.send(chunk)
        conn.send(epilogue)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered early (e.g. 413); its response says why
    sent = time.perf_counter()
    response = conn.getresponse()
    body = response.read()
    end = time.perf_counter()
    conn.close()
    return {"status": response.status, "body": body, "total_s": end - start, "sent_s": sent - start,
            "client_cpu_s": time.process_time() - cpu_start, "body_bytes": length}


# --- data ---------------------------------------------------------------------------------------------


def channel_names(count: int) -> list[str]:
    return ["accel_x", "accel_y", "accel_z"][:count] if count <= 3 else [f"accel_{i:02d}" for i in range(count)]


def write_files(folder: Path, samples: int, names: list[str], stem: str = "batch", seed: int = SEED) -> tuple[Path, Path]:
    data = np.random.default_rng(seed).standard_normal((samples, len(names)))
    npy = folder / f"{stem}.npy"
    np.save(npy, data)
    csv = folder / f"{stem}.csv"
    rounded = np.round(data, 6)
    del data
    table = pa.table({name: rounded[:, index] for index, name in enumerate(names)})
    del rounded
    with open(csv, "wb") as handle:
        handle.write((",".join(names) + "\n").encode())
        pa_csv.write_csv(table, handle, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    return csv, npy


# --- baselines ----------------------------------------------------------------------------------------


def _save(samples64: np.ndarray, target: Path) -> None:
    np.savez_compressed(target, samples=samples64.astype(np.float32))


def baseline_npy(path: Path, target: Path) -> None:
    _save(np.load(path), target)


def baseline_loadtxt(path: Path, target: Path) -> None:
    _save(np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2), target)


def baseline_pyarrow(path: Path, target: Path, memory_pool: pa.MemoryPool | None = None) -> None:
    table = pa_csv.read_csv(path, memory_pool=memory_pool)
    samples = np.column_stack([column.to_numpy() for column in table.columns])
    del table
    _save(samples, target)


def timed_baseline(run, path: Path, folder: Path) -> dict:
    target = folder / "baseline.npz"
    cpu_start, start = time.process_time(), time.perf_counter()
    run(path, target)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    target.unlink()
    return {"wall_s": wall, "cpu_s": cpu}


def traced_baseline(run, path: Path, folder: Path) -> tuple[int, int]:
    """Peak bytes under tracemalloc; for pyarrow plus the peak of a fresh Arrow proxy pool the CSV is
    read into (tracemalloc does not see Arrow's allocator). The two peaks need not coincide, so
    their sum is an upper bound."""
    target = folder / "baseline.npz"
    pool = pa.proxy_memory_pool(pa.default_memory_pool()) if run is baseline_pyarrow else None
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        run(path, target, memory_pool=pool) if pool is not None else run(path, target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    target.unlink()
    return peak, (pool.max_memory() if pool is not None else 0)


# --- what the server does, step by step ---------------------------------------------------------------


def ingest_breakdown(path: Path, folder: Path, names: list[str]) -> dict[str, float]:
    """The steps of batch_ingest on the same file, in this process, timed one by one (wall seconds)."""
    from devices import core
    from health.core.validation import MIN_SAMPLES

    steps: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        steps[name] = now - mark
        mark = now

    with open(path, "rb") as handle:
        core.content_hash(iter(lambda: handle.read(64 * 1024), b""))  # UploadedFile.chunks() reads 64 KiB
    lap("content hash (SHA-256)")
    table = core.read_signal_file(str(path), filename=path.name)
    lap("read file (reader)")
    mapping = {name: name for name in names} if set(names) <= set(table.channel_names) else None
    report = core.validate_signal_table(table, sampling_rate_hz=RATE_HZ, min_samples=MIN_SAMPLES,
                                        channel_mapping=mapping, expected_channels=names)
    lap("validate (2 chunked passes)")
    samples = report.extract_float32(table)
    lap("extract float32")
    encoded_path = folder / "breakdown.npz"
    with open(encoded_path, "w+b") as encoded:
        core.write_batch(encoded, samples, list(report.channel_names))
        del samples, table
        lap("compress (write_batch, zlib)")
        encoded.seek(0)
        with open(folder / "breakdown-stored.npz", "wb") as stored:
            shutil.copyfileobj(encoded, stored, 64 * 1024)
        lap("copy into storage")
    steps["stored size MB"] = encoded_path.stat().st_size / MB
    encoded_path.unlink()
    (folder / "breakdown-stored.npz").unlink()
    return steps


# --- the run ------------------------------------------------------------------------------------------


def api_run(env: dict, folder: Path, token: str, press_id: int, path: Path, warm_up: Path, content_type: str) -> dict:
    with Server(env, folder / "gunicorn.log") as server:
        status, body = api_get(server.port, token, f"/api/v1/presses/{press_id}/batches/")
        if status != 200:
            raise RuntimeError(f"warm-up GET of the batch list answered {status}: {body[:300]!r}\n{server.log_tail()}")
        started_at = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).isoformat()
        # A small upload of the same format first: the first upload in a process imports the
        # readers' and validation's modules (a one-off per worker, not a cost of the batch's size).
        warm = upload(server.port, token, press_id, warm_up, content_type, started_at)
        if warm["status"] != 201:
            raise RuntimeError(f"warm-up upload answered {warm['status']}: {warm['body'][:500]!r}\n{server.log_tail()}")
        idle = proc_status(server.worker_pid)
        cpu_before = proc_cpu_seconds(server.worker_pid)
        with RssSampler(server.worker_pid) as sampler:
            result = upload(server.port, token, press_id, path, content_type, started_at)
        final = proc_status(server.worker_pid)
        result["server_cpu_s"] = proc_cpu_seconds(server.worker_pid) - cpu_before
        if result["status"] != 201:
            raise RuntimeError(f"upload of {path.name} answered {result['status']}: {result['body'][:500]!r}\n"
                               f"{server.log_tail()}")
    answer = json.loads(result["body"])
    result.update(idle_rss=idle["VmRSS"], idle_anon=idle.get("RssAnon", 0), idle_file=idle.get("RssFile", 0),
                  hwm=final["VmHWM"], peak_anon=sampler.peak_anon, peak_file=sampler.peak_file,
                  sample_count=answer.get("sample_count"))
    return result


def fmt_rate(samples: int, seconds: float) -> str:
    return f"{samples / seconds / 1e6:.2f} M/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000_000, help="samples per channel")
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="uploads and timed baselines per format")
    parser.add_argument("--write", type=Path, default=None, help="also write the results as Markdown here")
    args = parser.parse_args()
    n, names = args.samples, channel_names(args.channels)
    raw64, raw32 = n * len(names) * 8, n * len(names) * 4
    load_before = os.getloadavg()
    run_start = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="presstrust-bench-ingest-"))
    try:
        env = portal_env(folder)
        t = time.perf_counter()
        setup = setup_portal(folder, env, names, args.repeats)
        setup_s = time.perf_counter() - t
        t = time.perf_counter()
        csv_path, npy_path = write_files(folder, n, names)
        warm_csv, warm_npy = write_files(folder, WARM_UP_SAMPLES, names, stem="warm-up", seed=SEED + 1)
        print(f"setup {setup_s:.1f} s; data written in {time.perf_counter() - t:.1f} s: "
              f"{npy_path.name} {npy_path.stat().st_size / MB:.1f} MB, {csv_path.name} {csv_path.stat().st_size / MB:.1f} MB",
              flush=True)
        formats = {
            "NPY": {"path": npy_path, "warm_up": warm_npy, "type": "application/octet-stream",
                    "baselines": {"numpy.load": baseline_npy}},
            "CSV": {"path": csv_path, "warm_up": warm_csv, "type": "text/csv",
                    "baselines": {"numpy.loadtxt": baseline_loadtxt, "pyarrow.csv.read_csv": baseline_pyarrow}},
        }
        results = {}
        for label, spec in formats.items():
            api, timed = [], {name: [] for name in spec["baselines"]}
            for repeat in range(args.repeats):
                for name, run in spec["baselines"].items():
                    timed[name].append(timed_baseline(run, spec["path"], folder))
                    print(f"{label} baseline {name} + savez_compressed: {timed[name][-1]['wall_s']:.2f} s", flush=True)
                api.append(api_run(env, folder, setup["token"], setup["presses"][repeat], spec["path"], spec["warm_up"],
                                   spec["type"]))
                if api[-1]["sample_count"] != n:
                    raise RuntimeError(f"the API stored {api[-1]['sample_count']} samples, not {n}")
                print(f"{label} API upload: {api[-1]['total_s']:.2f} s (body sent after {api[-1]['sent_s']:.2f} s), "
                      f"worker peak RSS {api[-1]['hwm'] / MB:.0f} MB, idle {api[-1]['idle_rss'] / MB:.0f} MB", flush=True)
            traced = {name: traced_baseline(run, spec["path"], folder) for name, run in spec["baselines"].items()}
            breakdown = ingest_breakdown(spec["path"], folder, names)
            results[label] = {"api": api, "timed": timed, "traced": traced, "breakdown": breakdown,
                              "size": spec["path"].stat().st_size}
        queued = sum(1 for item in (folder / "broker" / "queue").rglob("*") if item.is_file())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load_after = os.getloadavg()
    run_s = time.perf_counter() - run_start

    lines = report(args, n, names, raw64, raw32, results, load_before, load_after, run_s, queued)
    print("\n".join(lines))
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text("\n".join(lines) + "\n")


def report(args, n, names, raw64, raw32, results, load_before, load_after, run_s, queued) -> list[str]:
    command = "cd /work/main && .venv/bin/python bench/ingest.py " + " ".join(sys.argv[1:])
    lines = [
        "# Sensor-batch ingest through the HTTP API (bench/ingest.py)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs ({cpu_model()}), {memory_total_gib():.0f} GiB RAM, "
        f"Python {platform.python_version()}, numpy {np.__version__}, pyarrow {pa.__version__}",
        f"- command: `{command.strip()}`",
        f"- load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (other jobs share this 2-core "
        f"machine, so wall-clock figures are noisy); run wall {run_s:.0f} s",
        f"- batch: {n:,} samples x {len(names)} channels ({', '.join(names)}), float64 N(0,1), seed {SEED}, "
        f"{RATE_HZ:g} Hz; raw size {raw64 / MB:.0f} MB as float64, {raw32 / MB:.0f} MB as float32 (1 MB = 10^6 bytes)",
        f"- files: NPY {results['NPY']['size'] / MB:.1f} MB (float64), CSV {results['CSV']['size'] / MB:.1f} MB "
        f"(header + values rounded to 6 decimals)",
        "- server: gunicorn, 1 sync worker, --timeout 600, portal.settings.local with DEBUG=False, SQLite + "
        "local storage + filesystem broker in a temp PRESSTRUST_VAR_DIR, no Celery worker; "
        f"SENSOR_UPLOAD_MAX_BYTES raised to {UPLOAD_LIMIT / 2**30:.0f} GiB for the benchmark (default 200 MiB); "
        "a fresh server per upload",
        "- client: http.client, streaming multipart body in 1 MiB chunks, Token auth, over loopback",
        f"- analysis messages left in the filesystem broker by the uploads' on-commit hook: {queued} "
        f"(expected {2 * len(results) * args.repeats}: every upload, warm-ups included)",
    ]
    lines += [
        "",
        f"Per format, median of {args.repeats} run(s). Speed = samples per channel per second "
        "(n / time). Ratio = API speed / baseline speed (= baseline time / API time; > 1 means the API is faster).",
        "",
        "| format | API end to end | API speed | baseline (same file) | baseline time | baseline speed | ratio | target |",
        "|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for label, result in results.items():
        api_s = statistics.median(r["total_s"] for r in result["api"])
        for index, (name, runs) in enumerate(result["timed"].items()):
            base_s = statistics.median(r["wall_s"] for r in runs)
            target = ""
            if label == "NPY":
                target = "≥ 0.5x: " + ("met" if base_s / api_s >= 0.5 else "NOT met")
            elif index == 1:
                target = "(reference)"
            head = (f"| {label} | {api_s:.2f} s | {fmt_rate(n, api_s)} " if index == 0 else "| | | ")
            lines.append(f"{head}| {name} + astype(float32) + savez_compressed | {base_s:.2f} s | "
                         f"{fmt_rate(n, base_s)} | {base_s / api_s:.2f}x | {target} |")
    lines += [
        "",
        "CPU time (the server worker's user + system time for the request; the baseline process's CPU "
        "time, pyarrow's threads included):",
        "",
        "| format | server CPU | client CPU (sending) | body sent after | after the body | baseline | baseline CPU | CPU ratio |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for label, result in results.items():
        api = result["api"]
        server_cpu = statistics.median(r["server_cpu_s"] for r in api)
        for index, (name, runs) in enumerate(result["timed"].items()):
            base_cpu = statistics.median(r["cpu_s"] for r in runs)
            head = (f"| {label} | {server_cpu:.2f} s | {statistics.median(r['client_cpu_s'] for r in api):.2f} s | "
                    f"{statistics.median(r['sent_s'] for r in api):.2f} s | "
                    f"{statistics.median(r['total_s'] - r['sent_s'] for r in api):.2f} s "
                    if index == 0 else "| | | | | ")
            lines.append(f"{head}| {name} | {base_cpu:.2f} s | {base_cpu / server_cpu:.2f}x |")
    lines += [
        "",
        "Memory: the server worker's peak RSS (VmHWM) minus its idle RSS (after /healthz, a warm-up GET and a "
        f"{WARM_UP_SAMPLES:,}-sample warm-up upload of the same format); "
        "RssAnon / RssFile peaks sampled every 10 ms (file-backed pages include the memory-mapped .npy upload). "
        "Baselines: tracemalloc peak in this process; for pyarrow also the peak of the Arrow memory pool the "
        "CSV is read into (tracemalloc does not see it; the two peaks need not coincide, so their sum is an upper bound).",
        "",
        "| format | idle RSS | peak RSS | peak - idle | x raw float64 | x raw float32 | peak RssAnon - idle | "
        "peak RssFile - idle | target < 3x raw |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, result in results.items():
        api = result["api"]
        idle = statistics.median(r["idle_rss"] for r in api)
        hwm = statistics.median(r["hwm"] for r in api)
        extra = statistics.median(r["hwm"] - r["idle_rss"] for r in api)
        anon = statistics.median(r["peak_anon"] - r["idle_anon"] for r in api)
        filed = statistics.median(r["peak_file"] - r["idle_file"] for r in api)
        lines.append(f"| {label} | {idle / MB:.0f} MB | {hwm / MB:.0f} MB | {extra / MB:.0f} MB | {extra / raw64:.2f}x | "
                     f"{extra / raw32:.2f}x | {anon / MB:.0f} MB | {filed / MB:.0f} MB | "
                     f"{'met' if extra < 3 * raw64 else 'NOT met'} |")
    lines += ["", "| baseline | tracemalloc peak | Arrow pool peak | sum (upper bound) | x raw float64 |",
              "|---|---:|---:|---:|---:|"]
    for label, result in results.items():
        for name, (traced, arrow) in result["traced"].items():
            lines.append(f"| {label}: {name} + savez_compressed | {traced / MB:.0f} MB | "
                         f"{f'{arrow / MB:.0f} MB' if arrow else '-'} | {(traced + arrow) / MB:.0f} MB | "
                         f"{(traced + arrow) / raw64:.2f}x |")
    lines += [
        "",
        "Where the server's time goes: the steps of `batch_ingest` re-run in the bench process on the same "
        "file (wall seconds, one run; the HTTP figures above add the transfer, Django's multipart parsing "
        "into the temporary upload file, the database writes and the audit event):",
        "",
        "| step | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    steps = list(next(iter(results.values()))["breakdown"])
    for step in steps:
        cells = []
        for result in results.values():
            value = result["breakdown"][step]
            cells.append(f"{value:.1f}" if step.endswith("MB") else f"{value:.2f} s")
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    totals = [sum(v for k, v in r["breakdown"].items() if not k.endswith("MB")) for r in results.values()]
    lines.append("| sum of the steps | " + " | ".join(f"{total:.2f} s" for total in totals) + " |")
    return lines


if __name__ == "__main__":
    main()
