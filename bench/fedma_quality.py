"""Benchmark: test accuracy vs communication rounds for FedMA, FedAvg and centralised training on a
non-IID split of CWRU bearing health features.

    .venv/bin/python bench/fedma_quality.py                 # 5 splits, 2 and 5 local epochs
    .venv/bin/python bench/fedma_quality.py --seeds 2 --epochs 2

Data: ``../shared/data/cwru`` (sibling of the repository), 7 classes (normal, ball / inner race / outer
race faults of 0.007" and 0.021"), 52 features per 2048-sample window (federation.core.datasets),
25% of every class held out for testing. Five plants; each holds healthy data and 2 of the 6 fault
classes. Model: MLP 52-32-32-7 (3 parametric layers, so one FedMA pass = 3 rounds). FedMA runs as
specified (each pass restarts from own-size models rebuilt through the assignments) and with
``restart="global"`` (each pass restarts from the whole global model). Every strategy
trains ``epochs`` local epochs per round (Adam, lr 0.005, batch 32). Centralised training on the pooled
data runs the same number of epochs as one plant runs in that many rounds.
A split seed changes the train/test split, the plants' shares and the training seeds.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from federation.core.datasets import cwru_feature_set, non_iid_split, standardise, stratified_split  # noqa: E402
from federation.core.messages import TrainingConfig  # noqa: E402
from federation.core.simulation import run_in_process  # noqa: E402
from federation.core.specs import MLPSpec  # noqa: E402
from federation.core.strategies import FedAvg, FedMA, OneShotMatching  # noqa: E402
from federation.core.training import evaluate, initial_weights, train_local  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cwru"
SPEC = MLPSpec(input_dim=52, hidden_sizes=(32, 32), num_classes=7)


def run_split(dataset, seed: int, epochs: int, passes: int) -> dict[str, list[float]]:
    train, test = stratified_split(dataset.labels, test_fraction=0.25, seed=seed)
    train_x, test_x = standardise(dataset.features[train], dataset.features[test])
    train_y, test_y = dataset.labels[train], dataset.labels[test]
    parts = non_iid_split(train_y, num_clients=5, classes_per_client=2, seed=seed)
    clients = {f"plant-{j}": (train_x[p], train_y[p]) for j, p in enumerate(parts)}
    training = TrainingConfig(epochs=epochs, learning_rate=0.005, batch_size=32)
    rounds = passes * SPEC.layer_count
    checkpoints = [SPEC.layer_count * (p + 1) for p in range(passes)]
    results: dict[str, list[float]] = {}
    for name, strategy in (
        ("FedMA", FedMA(passes=passes, training=training, seed=seed)),
        ("FedMA, global restart", FedMA(passes=passes, training=training, seed=seed, restart="global")),
        ("FedAvg", FedAvg(rounds=rounds, training=training, seed=seed)),
        ("one-shot matching", OneShotMatching(training=replace(training, epochs=epochs * rounds), seed=seed)),
    ):
        state = strategy.start(list(clients), SPEC)
        state, history = run_in_process(strategy, state, clients, evaluation=(test_x, test_y))
        if name == "one-shot matching":
            results[name] = [history[-1].metrics.accuracy]
        else:
            results[name] = [history[r - 1].metrics.accuracy for r in checkpoints]
        if name.startswith("FedMA"):
            results[f"{name} widths"] = list(state.global_spec.hidden_sizes)
    weights = initial_weights(SPEC, seed)
    central = []
    previous = 0
    for checkpoint in checkpoints:
        config = TrainingConfig(epochs=epochs * (checkpoint - previous), learning_rate=0.005, batch_size=32)
        weights, _ = train_local(SPEC, weights, train_x, train_y, config=config, seed=seed + checkpoint)
        central.append(evaluate(SPEC, weights, test_x, test_y).accuracy)
        previous = checkpoint
    results["centralised"] = central
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="number of split seeds (0..n-1)")
    parser.add_argument("--epochs", type=int, nargs="+", default=[2, 5], help="local epochs per round")
    parser.add_argument("--passes", type=int, default=4, help="FedMA passes (3 rounds each)")
    args = parser.parse_args()
    if not DATA_DIR.is_dir():
        sys.exit(f"CWRU data not found at {DATA_DIR.resolve()}")
    dataset = cwru_feature_set(DATA_DIR)
    print(f"CWRU features: {dataset.features.shape[0]} windows x {dataset.features.shape[1]} features, "
          f"{len(dataset.class_names)} classes; splits 0..{args.seeds - 1}\n")
    for epochs in args.epochs:
        started = time.perf_counter()
        runs = [run_split(dataset, seed, epochs, args.passes) for seed in range(args.seeds)]
        checkpoints = [SPEC.layer_count * (p + 1) for p in range(args.passes)]
        print(f"## {epochs} local epochs per round: test accuracy, mean over splits (worst split)\n")
        print("| rounds | FedMA | FedMA, global restart | FedAvg | centralised (same epochs, pooled data) |")
        print("|---|---|---|---|---|")
        for index, rounds in enumerate(checkpoints):
            cells = []
            for name in ("FedMA", "FedMA, global restart", "FedAvg", "centralised"):
                values = np.array([run[name][index] for run in runs])
                cells.append(f"{values.mean():.3f} ({values.min():.3f})")
            print(f"| {rounds} | " + " | ".join(cells) + " |")
        one_shot = np.array([run["one-shot matching"][0] for run in runs])
        print(f"\nOne-shot matching (1 round, {epochs * checkpoints[-1]} local epochs): "
              f"{one_shot.mean():.3f} ({one_shot.min():.3f}).")
        for name in ("FedMA", "FedMA, global restart"):
            widths = np.array([run[f"{name} widths"] for run in runs])
            print(f"{name}: global hidden widths after {args.passes} passes (clients have 32, 32): "
                  f"mean {widths.mean(axis=0).round(1).tolist()}, max {widths.max(axis=0).tolist()}.")
        print(f"{time.perf_counter() - started:.0f} s.\n")


if __name__ == "__main__":
    main()
