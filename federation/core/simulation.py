"""Run a federated task in one process (tests, benchmarks, demos): the same instructions, updates and
aggregation as the portal's Celery steps, without the transport."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .client import execute_instruction
from .messages import ClientInstruction, ClientUpdate
from .metrics import ClassificationMetrics
from .strategies import Strategy, TaskState
from .training import evaluate

UpdateTamper = Callable[[ClientInstruction, ClientUpdate], ClientUpdate]


@dataclass(frozen=True)
class RoundRecord:
    """After ``rounds`` communication rounds: metrics of the latest complete global model on the
    evaluation set (``None`` when there is none yet or no evaluation set)."""

    rounds: int
    new_global_model: bool
    metrics: ClassificationMetrics | None


def run_in_process(
    strategy: Strategy,
    state: TaskState,
    datasets: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    evaluation: tuple[np.ndarray, np.ndarray] | None = None,
    tamper: UpdateTamper | None = None,
    noise_seed: int = 0,
) -> tuple[TaskState, list[RoundRecord]]:
    """Step ``strategy`` from ``state`` until it is finished.

    ``datasets[p]``: participant p's ``(features, labels)``. ``tamper`` may replace any update before
    aggregation (to simulate broken or malicious participants). Differential-privacy noise is drawn
    from generators seeded by ``(noise_seed, step, participant index)``.
    """
    records: list[RoundRecord] = []
    index = {participant: i for i, participant in enumerate(state.participants)}
    while not strategy.is_finished(state):
        updates = {}
        for participant, instruction in strategy.instructions(state).items():
            features, labels = datasets[participant]
            rng = np.random.default_rng([noise_seed, state.step, index[participant]])
            update = execute_instruction(instruction, features, labels, noise_rng=rng)
            updates[participant] = tamper(instruction, update) if tamper else update
        previous = state.global_weights
        state = strategy.aggregate(state, updates)
        changed = state.global_weights is not None and state.global_weights is not previous
        metrics = records[-1].metrics if records else None
        if evaluation is not None and changed:
            metrics = evaluate(state.global_spec, state.global_weights, *evaluation)
        records.append(RoundRecord(rounds=state.step, new_global_model=changed, metrics=metrics))
    return state, records
