"""Benchmark: ``audit.core.verify_chain`` throughput on 1,000,000 synthetic events.

Run:  .venv/bin/python bench/audit_verify_core.py [--events 1000000] [--write bench/results/audit_core.md]

The chain is sealed once (keys rotate from k1 to k2 half-way, as after a rotation) keeping only the
MACs in memory; events are then rebuilt lazily by a generator, which is how the Django side streams
rows (``.iterator()``), so memory stays flat. Reported:

* construction  - iterating the generator alone (the cost of building ChainEvent objects)
* verify total  - ``verify_chain`` over the generator (construction + verification)
* verify net    - verify total minus construction: what verify_chain itself costs
* tampered      - the same run with one payload edited near the end, to show detection costs the same
Wall-clock figures depend on what else the machine runs; the CPU-time row and the load average
printed with them say how busy it was.
The requirement is 1,000,000 events verified in under 60 s.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.core import GENESIS_MAC, ChainEvent, Keyring, compute_mac, generate_key, verify_chain  # noqa: E402

START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
MEMORY_RUN = 50_000
ACTIONS = ("devices.batch.ingest", "health.run.complete", "lending.adjustment.propose", "federation.round.aggregate")


def _unsealed(sequence: int, prev_mac: str, key_id: str) -> ChainEvent:
    return ChainEvent(
        sequence=sequence,
        occurred_at=START + dt.timedelta(seconds=sequence),
        actor_user=f"user{sequence % 97}",
        actor_org=f"org{sequence % 13}",
        actor_kind="user",
        action=ACTIONS[sequence % len(ACTIONS)],
        object_type="devices.sensorbatch",
        object_id=str(sequence),
        before_digest="",
        after_digest="ab" * 32,
        payload={"press": f"P-{sequence % 50}", "samples": sequence * 7, "status": "accepted"},
        key_id=key_id,
        prev_mac=prev_mac,
        mac="",
    )


def seal_macs(n_events: int, keyring_k1: Keyring, keyring_k2: Keyring) -> list[str]:
    macs: list[str] = []
    prev = GENESIS_MAC
    half = n_events // 2
    for sequence in range(1, n_events + 1):
        ring = keyring_k1 if sequence <= half else keyring_k2
        event = _unsealed(sequence, prev, ring.current_key_id)
        prev = compute_mac(event, ring.get(ring.current_key_id))
        macs.append(prev)
    return macs


def events(macs: list[str], rotate_after: int, tamper_at: int | None = None) -> Iterator[ChainEvent]:
    prev = GENESIS_MAC
    for index, mac in enumerate(macs):
        sequence = index + 1
        event = dataclasses.replace(_unsealed(sequence, prev, "k1" if sequence <= rotate_after else "k2"), mac=mac)
        if sequence == tamper_at:
            event = dataclasses.replace(event, payload={**event.payload, "status": "rejected"})
        yield event
        prev = mac


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--write", type=Path, default=None, help="write a Markdown result table here")
    args = parser.parse_args()
    n = args.events

    k1 = generate_key()
    k2 = generate_key()
    keyring_k1 = Keyring.parse(f"k1:{k1}", "k1")
    keyring_both = Keyring.parse(f"k2:{k2},k1:{k1}", "k2")

    half = n // 2
    t0 = time.perf_counter()
    macs = seal_macs(n, keyring_k1, keyring_both)
    seal_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for _ in events(macs, half):
        pass
    construction_s = time.perf_counter() - t0

    t0, cpu0 = time.perf_counter(), time.process_time()
    result = verify_chain(events(macs, half), keyring_both)
    verify_s, verify_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    assert result.ok and result.count == n, result

    # Memory in separate runs (tracemalloc slows Python allocation several-fold); the MAC lists that
    # stand in for the database are sliced before tracing starts.
    small, large = macs[:MEMORY_RUN], macs[: 2 * MEMORY_RUN]
    tracemalloc.start()
    assert verify_chain(events(small, half), keyring_both).ok
    _, peak_small = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    assert verify_chain(events(large, half), keyring_both).ok
    _, peak_large = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    tamper_at = n - 1000
    t0 = time.perf_counter()
    tampered = verify_chain(events(macs, half, tamper_at=tamper_at), keyring_both)
    tampered_s = time.perf_counter() - t0
    assert not tampered.ok and tampered.sequence == tamper_at and tampered.reason == "field_changed", tampered

    net_s = verify_s - construction_s
    rows = [
        ("events", f"{n:,}"),
        ("sealing the chain (construction + compute_mac), for reference", f"{seal_s:.2f} s"),
        ("construction of ChainEvent objects", f"{construction_s:.2f} s"),
        ("verify_chain total (construction + verification)", f"{verify_s:.2f} s  = {n / verify_s:,.0f} events/s"),
        ("verify_chain net (total - construction)", f"{net_s:.2f} s  = {n / net_s:,.0f} events/s"),
        ("verify_chain total, CPU time of this process", f"{verify_cpu_s:.2f} s (less sensitive to other load)"),
        ("tamper detected at sequence", f"{tampered.sequence} ({tampered.reason}) in {tampered_s:.2f} s"),
        (
            f"peak traced memory of verify_chain, {MEMORY_RUN:,} vs {2 * MEMORY_RUN:,} events",
            f"{peak_small / 1e3:.1f} kB vs {peak_large / 1e3:.1f} kB (constant)",
        ),
        ("python / platform", f"{platform.python_version()} / {platform.machine()} {platform.system()}, {os.cpu_count()} CPUs"),
        ("load average (1 min) at the end", f"{os.getloadavg()[0]:.2f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if args.write:
        lines = [
            "# Audit chain verification (audit/core) benchmark",
            "",
            f"`.venv/bin/python bench/audit_verify_core.py --events {n}` on "
            f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d}; keys rotate k1 -> k2 half-way; events streamed from a generator.",
            "Requirement: 1,000,000 events verified in < 60 s.",
            "",
            "| measure | value |",
            "|---|---|",
            *(f"| {name} | {value} |" for name, value in rows),
            "",
            "The memory row comes from separate tracemalloc runs over the first events; it excludes the list of",
            "pre-computed MACs the generator reads from, which stands in for the database.",
            "",
        ]
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
