"""Benchmark: BBP-MAP matching of one dense layer, and one layer-wise FedMA pass, against the
Hungarian solves they cannot avoid.

    .venv/bin/python bench/fedma_match.py              # full grid (about a minute on 2 cores)
    .venv/bin/python bench/fedma_match.py --quick      # J=4 only
    .venv/bin/python bench/fedma_match.py --repeat 5   # calls per layer configuration (default 3)

Layer grid: J = 4, 16, 32 clients x 256 and 1024 neurons x 513-dimensional rows (512 inputs + bias).
Client layers are noisy random subsets of a common pool of 1.25 x neurons (what trained networks look
like to the matcher: most neurons have counterparts, some do not); default hyper-parameters,
5 refinement passes, so (J - 1) + 5 J assignment problems per layer.

Floors, timed in the same run:
- "LSA in match": the time ``scipy.optimize.linear_sum_assignment`` spent inside ``match_layer`` on
  its own score matrices (recorded by ``match_layer``);
- "LSA random": ``linear_sum_assignment`` alone on uniformly random matrices of the same sizes, one
  per problem the matcher solved (the Hungarian cost one would budget without knowing the structure).
Target: matching within 3x its Hungarian solves.

Each layer configuration is matched ``--repeat`` times in the same process on the same input; the
table gives the median call (by total time) and the range of "match / LSA in match" over the calls.
The first call in a fresh process also pays for first-touch page faults on memory the process has
not used yet (a few ms; visible on the smallest layers).

BLAS runs single-threaded by default (as the assignment solver does), so the ratio compares like with
like and other jobs on the machine disturb it less; set OPENBLAS_NUM_THREADS to override.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from federation.core import strategies  # noqa: E402
from federation.core.fedma import match_layer  # noqa: E402
from federation.core.messages import TrainingConfig  # noqa: E402
from federation.core.simulation import run_in_process  # noqa: E402
from federation.core.specs import MLPSpec  # noqa: E402

ROW_DIMENSION = 513


def client_layers(clients: int, neurons: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    pool = rng.normal(0.0, 0.1, size=(int(1.25 * neurons), ROW_DIMENSION))
    return [
        pool[rng.choice(pool.shape[0], neurons, replace=False)] + rng.normal(0.0, 0.03, (neurons, ROW_DIMENSION))
        for _ in range(clients)
    ]


def random_lsa_seconds(shapes, seed: int) -> float:
    rng = np.random.default_rng(seed)
    total = 0.0
    for shape in shapes:
        costs = rng.random(shape)
        started = time.perf_counter()
        linear_sum_assignment(costs)
        total += time.perf_counter() - started
    return total


def bench_layers(grid, repeat: int):
    print("## One dense layer, 513-dimensional rows, default hyper-parameters, 5 refinement passes\n")
    print(f"Median of {repeat} calls per row (by total time); range of match / LSA in match over the calls.\n")
    print("| J | neurons | global L | problems | match s | score s | LSA in match s | LSA random s "
          "| match / LSA in match (range) | match / LSA random |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for clients, neurons in grid:
        layers = client_layers(clients, neurons, seed=clients * 7919 + neurons)
        calls = []
        for _ in range(repeat):
            started = time.perf_counter()
            match = match_layer(layers)
            calls.append((time.perf_counter() - started, match))
        ratios = sorted(total / match.solve_seconds for total, match in calls)
        total, match = sorted(calls, key=lambda call: call[0])[len(calls) // 2]
        floor_random = random_lsa_seconds(match.problem_shapes, seed=1)
        print(
            f"| {clients} | {neurons} | {match.global_layer.shape[0]} | {len(match.problem_shapes)} "
            f"| {total:.3f} | {match.score_seconds:.3f} | {match.solve_seconds:.3f} | {floor_random:.3f} "
            f"| {total / match.solve_seconds:.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f}) "
            f"| {total / floor_random:.2f} |",
            flush=True,
        )


def bench_fedma_pass():
    """One layer-wise FedMA pass (3 rounds) of a 3-layer MLP 64 -> 256 -> 256 -> 10, 8 clients."""
    rng = np.random.default_rng(0)
    classes, dimension, clients = 10, 64, 8
    centres = rng.normal(0, 1.0, (classes, dimension))
    data = {}
    for client in range(clients):
        labels = rng.integers(0, classes, 1500)
        data[f"client-{client}"] = (centres[labels] + rng.normal(0, 1.5, (1500, dimension)), labels)
    spec = MLPSpec(input_dim=dimension, hidden_sizes=(256, 256), num_classes=classes)
    matches = []
    original = strategies.match_layer

    def recording_match_layer(*args, **kwargs):
        started = time.perf_counter()
        result = original(*args, **kwargs)
        matches.append((time.perf_counter() - started, result))
        return result

    strategies.match_layer = recording_match_layer
    try:
        strategy = strategies.FedMA(passes=1, training=TrainingConfig(epochs=1, learning_rate=0.005, batch_size=64))
        started = time.perf_counter()
        state, _ = run_in_process(strategy, strategy.start(list(data), spec), data)
        total = time.perf_counter() - started
    finally:
        strategies.match_layer = original
    matching = sum(seconds for seconds, _ in matches)
    solves = sum(result.solve_seconds for _, result in matches)
    shapes = [shape for _, result in matches for shape in result.problem_shapes]
    floor_random = random_lsa_seconds(shapes, seed=2)
    print("\n## Layer-wise FedMA, one pass (3 rounds): MLP 64-256-256-10, 8 clients x 1500 samples, 1 epoch/step\n")
    print("| whole pass s | local training s | matching s | LSA in match s | LSA random s "
          "| matching / LSA in match | matching / LSA random | global widths |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {total:.2f} | {total - matching:.2f} | {matching:.2f} | {solves:.2f} | {floor_random:.2f} "
        f"| {matching / solves:.2f} | {matching / floor_random:.2f} | {state.global_spec.hidden_sizes} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only J = 4")
    parser.add_argument("--repeat", type=int, default=3, help="calls per layer configuration (median reported)")
    args = parser.parse_args()
    client_counts = (4,) if args.quick else (4, 16, 32)
    print(f"BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}; numpy {np.__version__}\n")
    bench_layers([(j, n) for j in client_counts for n in (256, 1024)], max(1, args.repeat))
    bench_fedma_pass()


if __name__ == "__main__":
    main()
