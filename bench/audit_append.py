"""Benchmark: audit chain appends (``audit.services.record``) against plain INSERTs, and the speed of
``audit.verification.verify_stored_chain`` over a large stored chain, on PostgreSQL.

Run:  cd /work/main && .venv/bin/python bench/audit_append.py
      [--events 3000] [--writers 8] [--rounds 3] [--verify-events 1000000]
      [--database-url postgres://postgres@127.0.0.1:5432/presstrust_bench] [--write bench/results/audit_append.md]

What it does:

1. Drops (if present) and creates the benchmark database named by ``--database-url`` (its name must
   contain "bench": the script drops it), points Django at it (``portal.settings.local`` with
   ``DATABASE_URL`` set to it and ``PRESSTRUST_VAR_DIR`` set to a temporary directory, so neither
   ``var/`` nor any other database is touched) and runs the migrations.
2. Appends: ``--events`` events per phase through ``record`` (each in its own ``transaction.atomic()``,
   as real callers do; an event recorded while another writer holds the chain goes into the intake and
   is sealed right after its commit, and a phase counts only once the intake is empty again), with 1 writer process and with ``--writers`` writer processes (forked, each
   with its own connection). Beside each, the same number of writers INSERTs the same rows (same
   columns, same payload, same indexes: a table created ``LIKE audit_auditevent INCLUDING ALL``),
   each in its own transaction, with values computed up front and a dummy unique sequence, two ways:
   ``Model.objects.create`` (what ``record`` used to do after locking the head) and one prepared raw
   ``INSERT ... RETURNING id`` (the cheapest possible write). The three kinds run in turn for
   ``--rounds`` rounds (the order rotates every round) and the median rate of each is reported, which
   damps the effect of other jobs on the machine. Ratio = append cost / insert cost = insert events/s
   / append events/s. Target: <= 3.
3. Verification: the chain written by the append phases is extended to ``--verify-events`` events
   sealed with ``audit.core.chain.seal_event`` and loaded with COPY (loading overlaps sealing), the
   ``AuditChainHead`` row is set, then ``verify_stored_chain`` runs over the whole stored chain (with an
   ``on_progress`` callback, as the worker task runs it). It must report the chain intact. A second
   pass only streams the rows (``stored_events``) to show the database/ORM share of the time.
   Target: 1,000,000 events verified in < 60 s.
4. Drops the benchmark database at the end, also after an error or Ctrl-C.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import multiprocessing
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import psycopg2  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/presstrust_bench"
PLAIN_TABLE = "bench_plain_auditevent"
N_ORGS = 12
WARMUP_OPS = 20
COPY_BATCH = 50_000
COPY_COLUMNS = ("sequence", "occurred_at", "actor_user", "actor_org", "actor_kind", "action", "object_type",
                "object_id", "before_digest", "after_digest", "payload", "key_id", "prev_mac", "mac", "organization_id")
ACTIONS = ("devices.batch.ingest", "health.run.complete", "lending.adjustment.propose", "federation.round.aggregate")


# --- The benchmark database ----------------------------------------------------------------------

def _admin_connection(database_url: str):
    parts = urlsplit(database_url)
    connection = psycopg2.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                                  user=unquote(parts.username or "postgres"),
                                  password=unquote(parts.password) if parts.password else None, dbname="postgres")
    connection.autocommit = True
    return connection


def _database_name(database_url: str) -> str:
    name = unquote(urlsplit(database_url).path.lstrip("/"))
    if not name or "bench" not in name:
        raise SystemExit(f"refusing to use database {name!r}: the benchmark drops it, so its name must contain 'bench'")
    return name


def create_database(database_url: str) -> None:
    name = _database_name(database_url)
    admin = _admin_connection(database_url)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()


def drop_database(database_url: str) -> None:
    name = _database_name(database_url)
    admin = _admin_connection(database_url)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def setup_django(database_url: str, var_dir: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.local"
    os.environ["DATABASE_URL"] = database_url
    os.environ["PRESSTRUST_VAR_DIR"] = var_dir
    os.environ["CELERY_BROKER_URL"] = "filesystem://"
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def plain_model():
    """An unmanaged model with exactly AuditEvent's columns, stored in a table with its indexes."""
    from django.db import connection, models

    from audit.models import AuditEvent

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {PLAIN_TABLE} (LIKE {AuditEvent._meta.db_table} INCLUDING ALL)")
    attrs = {"__module__": __name__,
             "Meta": type("Meta", (), {"app_label": "audit", "db_table": PLAIN_TABLE, "managed": False})}
    for field in AuditEvent._meta.local_fields:
        if not field.primary_key:
            attrs[field.name] = field.clone()
    return type("BenchPlainAuditEvent", (models.Model,), attrs)


# --- Writers ---------------------------------------------------------------------------------------

def _state(index: int) -> dict:
    return {"press": f"P-{index % 50}", "samples": index * 7, "status": "accepted", "tonnage": "250.0"}


def _payload(writer: int, index: int) -> dict:
    return {"press": f"P-{index % 50}", "samples": index * 7, "status": "accepted", "writer": f"w{writer}",
            "index": index}


def _append_ops(writer: int, orgs: list):
    from django.db import transaction

    from audit.services import record

    def op(index: int) -> None:
        org = orgs[index % len(orgs)]
        with transaction.atomic():
            event = record(actor=f"worker:{org.slug}", action="bench.append", obj=org, organization=org,
                           after=_state(index), payload=_payload(writer, index))
        return event.sequence is None  # recorded into the intake (the chain was held), sealed after commit

    return op


def _plain_ops(writer: int, orgs: list, model, count: int, phase: int, raw: bool):
    """INSERTs of the rows ``record`` would write for the same calls, their values computed up front:
    through ``Model.objects.create`` (ORM) or one prepared ``INSERT ... RETURNING id`` (raw)."""
    import hashlib
    import secrets

    from django.db import transaction
    from django.utils import timezone

    from audit.core.canonical import state_digest
    from audit.services import keyring

    key_id = keyring().current_key_id
    base = (phase * 1000 + writer + 1) * 10_000_000  # unique per phase and writer
    rows = []
    for index in range(count + WARMUP_OPS):
        org = orgs[index % len(orgs)]
        body = {**_payload(writer, index), "subject_org": org.slug}
        rows.append({"actor_user": None, "actor_org": org.slug, "actor_kind": "worker", "action": "bench.append",
                     "object_type": "accounts.organization", "object_id": str(org.pk), "before_digest": "",
                     "after_digest": state_digest(_state(index)), "payload": body, "key_id": key_id,
                     "prev_mac": hashlib.sha256(secrets.token_bytes(8)).hexdigest(),
                     "mac": hashlib.sha256(secrets.token_bytes(8)).hexdigest(), "organization": org})
    if not raw:
        create = model.objects.create

        def op(index: int) -> None:
            with transaction.atomic():
                create(sequence=base + index, occurred_at=timezone.now(), **rows[index])

        return op

    from django.db import connection

    qn = connection.ops.quote_name
    columns = [field for field in model._meta.concrete_fields if not field.primary_key]
    sql = (f"INSERT INTO {qn(PLAIN_TABLE)} ({', '.join(qn(field.column) for field in columns)}) "
           f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING {qn(model._meta.pk.column)}")
    prepared = []
    for index, values in enumerate(rows):
        instance = model(sequence=base + index, occurred_at=None, **values)
        prepared.append([field.get_db_prep_save(getattr(instance, field.attname), connection) for field in columns])
    when = [field.name for field in columns].index("occurred_at")

    def op(index: int) -> None:
        params = prepared[index]
        params[when] = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchone()

    return op


def _writer_main(kind: str, writer: int, count: int, phase: int, barrier, results, model) -> None:
    from django.db import connection

    from accounts.models import Organization

    try:
        orgs = list(Organization.objects.order_by("pk"))
        if kind == "append":
            op = _append_ops(writer, orgs)
        else:
            op = _plain_ops(writer, orgs, model, count, phase, raw=kind == "insert_raw")
        for index in range(count, count + WARMUP_OPS):  # opens the connection, warms caches; not timed
            op(index)
        barrier.wait(timeout=120)
        start = time.perf_counter()
        via_intake = 0
        for index in range(count):
            via_intake += bool(op(index))
        results.put((writer, start, time.perf_counter(), None, via_intake))
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the run
        barrier.abort()  # the other writers stop waiting for this one
        results.put((writer, None, None, traceback.format_exc(), 0))
    finally:
        connection.close()


def run_writers(kind: str, n_writers: int, total_events: int, phase: int, model) -> tuple[float, int]:
    """Events per second of ``n_writers`` forked processes doing ``total_events`` operations in all, and
    how many of the appended events went through the chain's intake."""
    from django.db import connections

    connections.close_all()  # children must not share the parent's socket
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(n_writers)
    results = context.Queue()
    counts = [total_events // n_writers + (1 if i < total_events % n_writers else 0) for i in range(n_writers)]
    processes = [context.Process(target=_writer_main, args=(kind, i, counts[i], phase, barrier, results, model),
                                 daemon=True) for i in range(n_writers)]
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=900) for _ in processes]
        for process in processes:
            process.join(timeout=60)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join()
    errors = [error for *_times, error, _via in reports if error]
    if errors:
        raise RuntimeError(f"a {kind} writer failed:\n{errors[0]}")
    starts = [start for _w, start, _end, _e, _via in reports]
    ends = [end for _w, _start, end, _e, _via in reports]
    return sum(counts) / (max(ends) - min(starts)), sum(via for *_rest, via in reports)


# --- A large stored chain ---------------------------------------------------------------------------

def _copy_batch(buffer: io.StringIO) -> None:
    from django.db import connection, transaction

    buffer.seek(0)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY audit_auditevent ({', '.join(COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer)


def _close_connection() -> None:
    from django.db import connection

    connection.close()


def fill_chain(target: int) -> tuple[int, float]:
    """Extend the stored chain to ``target`` events; returns (events added, seconds)."""
    from django.db import connection, transaction

    from accounts.models import Organization
    from audit.core.canonical import format_timestamp
    from audit.core.chain import GENESIS_MAC, seal_event
    from audit.models import AuditChainHead
    from audit.services import keyring

    ring = keyring()
    head = AuditChainHead.objects.filter(id=1).first()
    first = (head.last_sequence if head else 0) + 1
    prev_mac = head.last_mac if head else GENESIS_MAC
    # Every 10th event is a system event of no organisation (NULL column, null subject_org).
    orgs = [(org.pk, org.slug) for org in Organization.objects.order_by("pk")] + [(None, None)]
    start_time = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    t0 = time.perf_counter()
    dumps = json.dumps
    null = "\\N"
    pending = []
    with ThreadPoolExecutor(max_workers=1) as loader:  # COPY of one batch overlaps sealing of the next
        buffer, writer = None, None
        for sequence in range(first, target + 1):
            if writer is None:
                buffer = io.StringIO()
                writer = csv.writer(buffer, lineterminator="\n")
            org_pk, org_slug = orgs[sequence % len(orgs)]
            event = seal_event(
                sequence=sequence, prev_mac=prev_mac, keyring=ring,
                occurred_at=start_time + dt.timedelta(milliseconds=sequence),
                actor_kind="user" if org_slug else "system",
                action=ACTIONS[sequence % len(ACTIONS)],
                object_type="devices.sensorbatch", object_id=str(sequence),
                actor_user=f"user{sequence % 97}" if org_slug else None, actor_org=org_slug,
                after_digest="ab" * 32,
                payload={"press": f"P-{sequence % 50}", "samples": sequence * 7, "status": "accepted",
                         "writer": f"w{sequence % 8}", "index": sequence, "subject_org": org_slug},
            )
            writer.writerow((event.sequence, format_timestamp(event.occurred_at),
                             null if event.actor_user is None else event.actor_user,
                             null if event.actor_org is None else event.actor_org, event.actor_kind, event.action,
                             event.object_type, event.object_id, event.before_digest, event.after_digest,
                             dumps(event.payload, ensure_ascii=False), event.key_id, event.prev_mac, event.mac,
                             null if org_pk is None else org_pk))
            prev_mac = event.mac
            if (sequence - first + 1) % COPY_BATCH == 0 or sequence == target:
                while len(pending) >= 2:  # bound memory: at most two batches waiting
                    pending.pop(0).result()
                pending.append(loader.submit(_copy_batch, buffer))
                buffer, writer = None, None
        for future in pending:
            future.result()
        loader.submit(_close_connection).result()
    added = max(0, target - first + 1)
    if added:
        with transaction.atomic():
            AuditChainHead.objects.update_or_create(id=1, defaults={"last_sequence": target, "last_mac": prev_mac})
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE audit_auditevent")
    return added, time.perf_counter() - t0


def measure_verification() -> dict:
    from audit.models import AuditChainHead
    from audit.services import keyring
    from audit.verification import stored_events, verify_stored_chain

    ring = keyring()
    head = AuditChainHead.objects.get(id=1)
    progress_calls = []
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = verify_stored_chain(ring, on_progress=progress_calls.append)
    verify_s, verify_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if not (result.ok and result.count == head.last_sequence):
        raise RuntimeError(f"the stored chain did not verify: {result}")
    t0, cpu0 = time.perf_counter(), time.process_time()
    streamed = sum(1 for _ in stored_events())
    stream_s, stream_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if streamed != result.count:
        raise RuntimeError(f"streamed {streamed} events, verified {result.count}")
    return {"count": result.count, "verify_s": verify_s, "verify_cpu": verify_cpu, "stream_s": stream_s,
            "stream_cpu": stream_cpu, "progress_calls": len(progress_calls), "message": result.message}


# --- Main -------------------------------------------------------------------------------------------

def _sigterm(_signum, _frame):
    raise SystemExit("terminated")


def _load() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="events per append/insert phase (all writers)")
    parser.add_argument("--writers", type=int, default=8, help="writer processes of the concurrent phases")
    parser.add_argument("--rounds", type=int, default=3, help="alternating append/insert rounds per writer count")
    parser.add_argument("--verify-events", type=int, default=1_000_000, help="size of the chain verified")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL,
                        help="the benchmark database (created, then dropped; its name must contain 'bench')")
    parser.add_argument("--write", type=Path, default=None, help="write a Markdown result table here")
    args = parser.parse_args()
    if args.events < max(args.writers, 1) or args.rounds < 1 or args.verify_events < 1:
        parser.error("need --events >= --writers, --rounds >= 1 and --verify-events >= 1")

    signal.signal(signal.SIGTERM, _sigterm)
    _database_name(args.database_url)
    var_dir = tempfile.mkdtemp(prefix="presstrust-bench-")
    started = time.perf_counter()
    created = False
    try:
        create_database(args.database_url)
        created = True
        setup_django(args.database_url, var_dir)
        rows = run(args)
    finally:
        if created:
            from django.db import connections

            connections.close_all()
            drop_database(args.database_url)
        shutil.rmtree(var_dir, ignore_errors=True)
    rows.append(("wall time of the whole benchmark", f"{time.perf_counter() - started:.0f} s"))
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if args.write:
        write_markdown(args, rows)


def run(args) -> list[tuple[str, str]]:
    from django.db import connection

    from accounts.models import Organization
    from accounts.roles import OrganizationKind

    Organization.objects.bulk_create(
        [Organization(name=f"Bench Org {i}", slug=f"bench-org-{i}", kind=OrganizationKind.ENTERPRISE)
         for i in range(N_ORGS)])
    model = plain_model()
    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), current_setting('synchronous_commit'), current_setting('fsync'), "
                       "current_setting('shared_buffers')")
        pg_version, synchronous_commit, fsync, shared_buffers = cursor.fetchone()

    rows: list[tuple[str, str]] = []
    kinds = ("insert_orm", "append", "insert_raw")
    names = {"append": "append via record", "insert_orm": "plain INSERT, ORM create",
             "insert_raw": "plain INSERT, raw SQL"}
    phase = 0
    intake: dict[int, list[int]] = {n: [] for n in sorted({1, args.writers})}
    for n_writers in sorted({1, args.writers}):
        rates: dict[str, list[float]] = {kind: [] for kind in kinds}
        for round_index in range(args.rounds):
            for kind in kinds[round_index % 3:] + kinds[:round_index % 3]:  # the order rotates every round
                phase += 1
                rate, via_intake = run_writers(kind, n_writers, args.events, phase, model)
                if kind == "append":
                    _require_all_sealed()
                    intake[n_writers].append(via_intake)
                rates[kind].append(rate)
                print(f"{n_writers} writer(s), round {round_index + 1}, {names[kind]:<25} {rate:8,.0f} events/s  "
                      f"(load {_load()})", flush=True)
        median = {kind: statistics.median(values) for kind, values in rates.items()}
        label = f"{n_writers} writer{'s' if n_writers > 1 else ''}"
        for kind in ("append", "insert_orm", "insert_raw"):
            rows.append((f"{label}: {names[kind]} (median of {args.rounds})",
                         f"{median[kind]:,.0f} events/s  ({1000 / median[kind]:.2f} ms each; rounds "
                         f"{', '.join(f'{r:,.0f}' for r in rates[kind])})"))
        rows.append((f"{label}: append cost / plain INSERT cost (ORM; raw)",
                     f"{median['insert_orm'] / median['append']:.2f}x; {median['insert_raw'] / median['append']:.2f}x"
                     f"  (target <= 3x)"))
        rows.append((f"{label}: appended events that went through the intake (per round)",
                     f"{', '.join(f'{v:,}' for v in intake[n_writers])} of {args.events:,}"))

    target = max(args.verify_events, _head_sequence())
    print(f"sealing and loading the chain up to {target:,} events ...", flush=True)
    added, fill_s = fill_chain(target)
    print(f"  {added:,} events sealed and loaded in {fill_s:.1f} s; verifying ...", flush=True)
    verification = measure_verification()
    n = verification["count"]
    rate = n / verification["verify_s"]
    rows += [
        ("chain verified (events; appended + sealed and COPYed)", f"{n:,} ({n - added:,} + {added:,})"),
        ("sealing (seal_event) + COPY of the added events", f"{fill_s:.1f} s"),
        ("verify_stored_chain", f"{verification['verify_s']:.1f} s = {rate:,.0f} events/s "
                                f"(CPU of this process {verification['verify_cpu']:.1f} s)"),
        ("verify_stored_chain, extrapolated to 1,000,000 events", f"{1_000_000 / rate:.1f} s  (target < 60 s)"),
        ("of which streaming rows alone (stored_events, no MAC)",
         f"{verification['stream_s']:.1f} s (CPU {verification['stream_cpu']:.1f} s)"),
        ("result", verification["message"]),
        ("PostgreSQL", f"{pg_version.split(' on ')[0]}; synchronous_commit={synchronous_commit}, fsync={fsync}, "
                       f"shared_buffers={shared_buffers}"),
        ("python / platform", f"{platform.python_version()} / {platform.machine()} {platform.system()}, "
                              f"{os.cpu_count()} CPUs"),
        ("load average (1/5/15 min) at the end", _load()),
    ]
    return rows


def _require_all_sealed() -> None:
    """Every appended event is in the chain by the time its writer finished (none left in the intake)."""
    from audit.models import AuditIntake

    waiting = AuditIntake.objects.count()
    if waiting:
        raise RuntimeError(f"{waiting} appended events were left in the intake, unsealed")


def _head_sequence() -> int:
    from audit.models import AuditChainHead

    head = AuditChainHead.objects.filter(id=1).first()
    return head.last_sequence if head else 0


def write_markdown(args, rows) -> None:
    command = ["cd /work/main && .venv/bin/python bench/audit_append.py"]
    for option, default in (("events", 3000), ("writers", 8), ("rounds", 3), ("verify_events", 1_000_000)):
        if getattr(args, option) != default:
            command.append(f"--{option.replace('_', '-')} {getattr(args, option)}")
    if args.database_url != DEFAULT_DATABASE_URL:
        command.append(f"--database-url {args.database_url}")
    command.append(f"--write {args.write}")
    lines = [
        "# Audit chain appends and stored-chain verification (PostgreSQL) benchmark",
        "",
        f"`{' '.join(command)}` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d}.",
        "Targets: an append costs no more than 3x a plain INSERT; 1,000,000 stored events verified in < 60 s.",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
    ]
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
