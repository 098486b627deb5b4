"""Benchmark: a 5-participant FedMA task through the portal, over Redis, with 2 Celery worker processes.

Run:  .venv/bin/python bench/federated_task.py [--participants 5] [--batches 12] [--epochs 20] [--passes 2]
                                               [--hidden 32,16] [--repeats 1] [--write bench/results/federated_task.md]

What one run does:

* environment: a temporary PRESSTRUST_VAR_DIR (secrets, batch storage), a fresh PostgreSQL database
  ``presstrust_bench_federation`` on ``$BENCH_POSTGRES`` (default ``postgres://postgres@127.0.0.1:5432``),
  Redis ``$BENCH_REDIS`` (default ``redis://127.0.0.1:6379/12``, flushed), ``manage.py migrate``;
* data, through the services: a lender and 5 enterprises, each with one press and ``--batches`` one-second
  20 kHz recordings simulated by ``health.core.simulate`` and labelled (healthy plus two of the three
  fault types per enterprise, non-IID), ingested with ``devices.services.batch_ingest``;
* workers: 2 ``celery -A portal worker --all-participants -Q default,aggregation --concurrency=1``
  processes (BLAS/torch single-threaded), both serving every queue, started before the clock; the
  health analyses the uploads queued run to completion before the clock starts;
* task: FedMA, MLP 26-hidden-4, ``--passes`` passes (= passes x layers steps), ``--epochs`` local epochs,
  created by the loan officer and accepted by the 5 managers; the clock runs from the task's start
  (``started_at``, when the last grant was accepted) to its end (``finished_at``), both written by the
  services in the database.

Split of the wall time (all from the rows the task leaves behind):

* local training: per step, the makespan of the participants' ``training_seconds`` (data read,
  features, training, local evaluation; measured inside the local-train task) scheduled optimally
  onto 2 workers (longest first: the time a step's training takes with zero orchestration cost);
* aggregation: per step, ``aggregation_seconds`` (strategy aggregation, leave-one-out variants);
* evaluations: the global model versions (one per FedMA pass) are evaluated by every participant on its
  hold-out while the next step trains; what their ``seconds`` add to that step's 2-worker makespan;
* orchestration overhead: the rest of the wall time — queueing and worker hand-offs, database reads
  and writes with their audit events, dispatch, sealing/verifying/storing envelopes. Envelope cost alone (seal + open of one update of
  the task's size, timed in this process) is shown beside it.

Target (issue 7): orchestration overhead under 10 % of the wall time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import heapq
import io
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = "presstrust_bench_federation"
FAULT_PLAN = [("outer_race", "inner_race"), ("inner_race", "rolling_element"), ("outer_race", "rolling_element"),
              ("outer_race", "inner_race"), ("inner_race", "rolling_element")]


def _environment(var_dir: Path) -> dict[str, str]:
    postgres = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    redis_url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")
    return {"DJANGO_SETTINGS_MODULE": "portal.settings.local", "DEBUG": "false", "PRESSTRUST_VAR_DIR": str(var_dir),
            "DATABASE_URL": f"{postgres}/{DB_NAME}", "CELERY_BROKER_URL": redis_url, "LOG_LEVEL": "WARNING",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "WORKER_HEARTBEAT_SECONDS": "30", "CONN_MAX_AGE": os.environ.get("BENCH_CONN_MAX_AGE", "60")}


def _fresh_database(postgres_url: str) -> None:
    import psycopg2

    parts = urlsplit(postgres_url)
    connection = psycopg2.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
                                  password=parts.password, dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {DB_NAME}")
    connection.close()


def _lpt_makespan(durations: list[float], workers: int) -> float:
    """Longest-processing-time-first schedule of ``durations`` on ``workers`` machines: its makespan."""
    loads = [0.0] * workers
    heapq.heapify(loads)
    for duration in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + duration)
    return max(loads)


def _build(participants: int, batches: int, epochs: int, passes: int, hidden: tuple[int, ...]):
    import numpy as np
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts import services as account_services
    from devices import services as device_services
    from federation import services
    from health.core.simulate import simulate_bearing_signal

    password = "bench-federation-horse-42"
    lender = account_services.organization_create(actor=None, name="Bench Bank", kind="lender", slug="bench-bank")
    officer = account_services.user_create(actor=None, organization=lender, role="loan_officer", username="officer",
                                           password=password)
    enterprises = []
    faults = {"outer_race": "outer", "inner_race": "inner", "rolling_element": "ball"}
    start = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
    for index in range(participants):
        organization = account_services.organization_create(actor=None, name=f"Bench Works {index + 1}",
                                                            kind="enterprise", slug=f"bench-works-{index + 1}")
        manager = account_services.user_create(actor=None, organization=organization, role="enterprise_manager",
                                               username=f"manager{index + 1}", password=password)
        press = device_services.press_register(
            actor=manager, organization=organization, name="Line press", site="Plant", make="Schuler",
            model="MSD 400", rated_tonnage_t="400", stroke_rate_min_spm="10", stroke_rate_max_spm="40",
            commissioned_on=dt.date(2015, 1, 1), channels=[{"name": "acc", "kind": "acceleration", "unit": "g"}])
        conditions = ["healthy", *FAULT_PLAN[index % len(FAULT_PLAN)]]
        for number in range(batches):
            condition = conditions[number % len(conditions)]
            fault = faults.get(condition)
            signal = simulate_bearing_signal(20000.0, 1.0, fault=fault, severity=1.0 if fault else 0.0,
                                             shaft_hz=18.0 + 2.0 * (number % 5), snr_db=-5.0,
                                             seed=1000 * index + number)
            buffer = io.BytesIO()
            np.save(buffer, signal[:, None].astype(np.float32))
            batch = device_services.batch_ingest(
                actor=manager, press=press, uploaded_file=SimpleUploadedFile(f"b{number}.npy", buffer.getvalue()),
                sampling_rate_hz=20000.0, started_at=start + dt.timedelta(hours=number))
            services.batch_label_set(actor=manager, batch=batch, condition=condition)
        enterprises.append((organization, manager))
    task = services.task_create(
        actor=officer, purpose="Benchmark: press fault state", model_kind="fault_state",
        enterprises=[organization for organization, _manager in enterprises], label_source="batch_label",
        aggregation="fedma", rounds=passes, local_epochs=epochs, hidden_sizes=hidden,
        min_participants=participants, seed=1)
    return task, enterprises


def _start_workers(env: dict[str, str], count: int, log_dir: Path) -> list[subprocess.Popen]:
    processes = []
    for number in range(count):
        log = open(log_dir / f"worker-{number}.log", "w")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--all-participants", "-Q",
             "default,aggregation", "--concurrency=1", "--pool=prefork", "-l", "info", "-n", f"bench{number}@%h"],
            cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    deadline = time.time() + 90
    for number in range(count):
        path = log_dir / f"worker-{number}.log"
        while " ready." not in path.read_text(errors="replace"):
            if time.time() > deadline or processes[number].poll() is not None:
                raise RuntimeError(path.read_text(errors="replace"))
            time.sleep(0.3)
    time.sleep(6)  # let --all-participants subscribe to every participant queue (refreshed every 5 s)
    return processes


def _wait_for_health_runs(timeout: float = 600) -> None:
    """Each ingested batch queued a health analysis on its enterprise's queue; let the workers finish
    them before the clock starts, so they do not compete with the federated task."""
    from devices.models import SensorBatch
    from health.models import HealthRun

    deadline = time.time() + timeout
    expected = SensorBatch.objects.count()
    while time.time() < deadline:
        done = HealthRun.objects.filter(status__in=[HealthRun.Status.DONE, HealthRun.Status.FAILED]).values(
            "batch_id").distinct().count()
        if done >= expected:
            return
        time.sleep(0.5)
    raise RuntimeError("the health analyses of the ingested batches did not finish")


def _stop_workers(processes) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _envelope_seconds(task) -> float:
    """Seal + open of one update of the task's first step, in this process (mean of 20)."""
    import numpy as np

    from federation import crypto
    from federation.core.envelope import open_update, seal_update
    from federation.core.messages import ClientUpdate
    from federation.core.specs import spec_from_dict
    from federation.core.training import initial_weights
    from federation.models import TaskParticipant

    spec = spec_from_dict(task.spec)
    weights = initial_weights(spec, 0)
    participant = TaskParticipant.objects.filter(task=task).select_related("organization").first()
    key, _version = crypto.participant_signing_key(participant.organization)
    update = ClientUpdate(participant.name, 0, 0, weights, 100, (25, 25, 25, 25), 0.5)
    public, private = crypto.aggregator_public_key(), crypto.aggregator_private_key()
    verify = crypto.participant_verify_key(participant.organization)
    shapes = [np.shape(a) for layer in weights for a in layer]
    started = time.perf_counter()
    for _ in range(20):
        sealed = seal_update(update, task_id=str(task.uuid), signing_key=key, aggregator_key=public)
        open_update(sealed, task_id=str(task.uuid), step=0, participant=participant.name, participant_key=verify,
                    aggregator_key=private, expected_shapes=shapes)
    return (time.perf_counter() - started) / 20


def run_once(args, env) -> dict:
    import django
    from django.core.management import call_command

    _fresh_database(os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432"))
    import redis

    redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
    django.setup()
    from django.db import connections

    connections.close_all()
    call_command("migrate", verbosity=0)
    from federation import services
    from federation.models import DataUseGrant, FederatedTask, ModelUpdate, TaskStep

    hidden = tuple(int(h) for h in args.hidden.split(","))
    built = time.perf_counter()
    task, enterprises = _build(args.participants, args.batches, args.epochs, args.passes, hidden)
    build_seconds = time.perf_counter() - built
    log_dir = Path(env["PRESSTRUST_VAR_DIR"]) / "logs"
    log_dir.mkdir(exist_ok=True)
    processes = _start_workers(env, 2, log_dir)
    try:
        _wait_for_health_runs()
        clock = time.perf_counter()
        for organization, manager in enterprises:
            services.grant_accept(actor=manager, grant=DataUseGrant.objects.get(task=task, organization=organization))
        while True:
            task.refresh_from_db()
            if task.status not in (FederatedTask.Status.AWAITING_GRANTS, FederatedTask.Status.RUNNING):
                break
            if time.perf_counter() - clock > 1800:
                raise RuntimeError("the task did not finish in 30 minutes")
            time.sleep(0.2)
        observed = time.perf_counter() - clock
    finally:
        _stop_workers(processes)
    if task.status != FederatedTask.Status.FINISHED:
        raise RuntimeError(f"task ended {task.status}: {task.status_message}")
    wall = (task.finished_at - task.started_at).total_seconds()
    from federation.models import Evaluation

    training = aggregation = training_cpu = evaluation = 0.0
    steps = list(TaskStep.objects.filter(task=task).order_by("index"))
    for step in steps:
        durations = list(ModelUpdate.objects.filter(step=step, status="received").values_list(
            "training_seconds", flat=True))
        # Evaluations of the version the previous step produced share the workers with this step's training.
        evaluations = list(Evaluation.objects.filter(version__task=task, version__step__index=step.index - 1)
                           .values_list("seconds", flat=True))
        alone = _lpt_makespan(durations, 2)
        training += alone
        evaluation += _lpt_makespan(durations + evaluations, 2) - alone
        training_cpu += sum(durations)
        aggregation += step.aggregation_seconds or 0.0
    if os.environ.get("BENCH_TIMELINE"):
        origin = task.started_at
        for step in steps:
            rows = ModelUpdate.objects.filter(step=step).order_by("received_at")
            print(f"step {step.index}: started {(step.started_at - origin).total_seconds():.2f} "
                  f"aggregate queued {(step.aggregate_enqueued_at - origin).total_seconds():.2f} "
                  f"done {(step.completed_at - origin).total_seconds():.2f}; updates " + ", ".join(
                      f"{(u.dispatched_at - origin).total_seconds():.2f}->{(u.received_at - origin).total_seconds():.2f}"
                      f" ({u.training_seconds:.2f})" for u in rows))
    updates = ModelUpdate.objects.filter(step__task=task, status="received").count()
    envelope = _envelope_seconds(task)
    overhead = wall - training - aggregation - evaluation
    version = task.versions.get(is_final=True)
    return {"wall": wall, "observed": observed, "training": training, "training_cpu": training_cpu,
            "evaluation": evaluation,
            "aggregation": aggregation, "overhead": overhead, "steps": len(steps), "updates": updates,
            "envelope_each": envelope, "envelopes": envelope * updates, "build": build_seconds,
            "widths": [layer["units"] for layer in version.layer_sizes[:-1]],
            "windows": sum(ModelUpdate.objects.filter(step__task=task, step__index=0).values_list(
                "num_samples", flat=True))}


def _table(results: list[dict]) -> str:
    lines = ["| run | wall s | local training s (makespan on 2 workers) | aggregation s | evaluations s "
             "| orchestration overhead s | overhead % | of which envelopes s | training CPU s | steps | updates |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for number, r in enumerate(results, 1):
        lines.append(f"| {number} | {r['wall']:.2f} | {r['training']:.2f} | {r['aggregation']:.3f} | {r['evaluation']:.2f} "
                     f"| {r['overhead']:.2f} | {100 * r['overhead'] / r['wall']:.1f} | {r['envelopes']:.3f} "
                     f"| {r['training_cpu']:.2f} | {r['steps']} | {r['updates']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=5)
    parser.add_argument("--batches", type=int, default=36)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--hidden", default="32,16")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="presstrust-bench-federation-"))
    env = _environment(var_dir)
    os.environ.update(env)
    results = []
    try:
        for _ in range(args.repeats):
            results.append(run_once(args, env))
            print(_table(results[-1:]), flush=True)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(var_dir, ignore_errors=True)
        else:
            print("kept", var_dir)
    summary = _table(results)
    print(summary)
    if args.write:
        first = results[0]
        args.write.write_text(
            "# Federated task through the portal (bench/federated_task.py)\n\n"
            f"- date: {dt.date.today().isoformat()}; machine: {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}\n"
            f"- command: `.venv/bin/python bench/federated_task.py --participants {args.participants} --batches "
            f"{args.batches} --epochs {args.epochs} --passes {args.passes} --hidden {args.hidden} --repeats "
            f"{args.repeats}`\n"
            f"- PostgreSQL and Redis on 127.0.0.1; 2 worker processes (concurrency 1, every queue); "
            f"FedMA MLP 26-{args.hidden.replace(',', '-')}-4, {first['steps']} steps ({args.passes} passes), "
            f"{args.epochs} local epochs, {first['windows']} training windows over {args.participants} enterprises\n"
            f"- final global hidden widths: {first['widths']}; set-up (data through the services) "
            f"{first['build']:.1f} s, not timed\n\n"
            + summary + "\n")


if __name__ == "__main__":
    main()
