from dataclasses import replace

import numpy as np
import pytest

from federation.core.fedma import EXACT_RECOVERY_SETTINGS, match_layer
from federation.core.messages import TrainingConfig
from federation.core.robust import (
    RobustSettings,
    reject_neuron_outliers,
    reject_output_outliers,
    robust_average,
)
from federation.core.simulation import run_in_process
from federation.core.specs import MLPSpec
from federation.core.strategies import FedAvg, FedMA, RobustFedAvg

ATTACKER = "plant-4"
SPEC = MLPSpec(input_dim=52, hidden_sizes=(32, 32), num_classes=7)
TRAINING = TrainingConfig(epochs=2, learning_rate=0.005, batch_size=32)


def attack(factor):
    """The attacker sends ``factor`` times its real update (negative: sign-flipped)."""

    def tamper(instruction, update):
        if update.participant != ATTACKER:
            return update
        start = instruction.weights[update.first_layer :]
        layers = [(sw + factor * (w - sw), sb + factor * (b - sb)) for (sw, sb), (w, b) in zip(start, update.layers)]
        return replace(update, layers=layers)

    return tamper


ATTACKS = {"sign-flipped x4": attack(-4.0), "scaled x10": attack(10.0)}


def _final_accuracy(strategy, split, tamper=None):
    state = strategy.start(list(split.clients), SPEC)
    state, rounds = run_in_process(strategy, state, split.clients, evaluation=split.test, tamper=tamper)
    return rounds[-1].metrics.accuracy, {flag.participant for flag in state.flags}


def test_robust_average_flags_scaled_flipped_and_broken_updates():
    rng = np.random.default_rng(0)
    direction = rng.normal(size=200)
    honest = direction + rng.normal(0, 0.3, (4, 200))
    for bad, reason in ((8 * direction, "norm"), (-direction, "points away"), (np.full(200, np.nan), "non-finite")):
        updates = np.vstack([honest, bad])
        for rule in ("median", "trimmed_mean"):
            result = robust_average(updates, RobustSettings(rule=rule))
            assert list(result.flagged) == [4] and reason in result.flagged[4]
            assert result.used == (0, 1, 2, 3)
            assert np.linalg.norm(result.update - honest.mean(axis=0)) < 0.5 * np.linalg.norm(direction) * 0.3
    clean = robust_average(honest, RobustSettings())
    assert clean.flagged == {}


@pytest.mark.parametrize("attack_name", list(ATTACKS))
def test_robust_fedavg_holds_accuracy_when_one_of_five_attacks(cwru_iid, attack_name):
    clean, clean_flags = _final_accuracy(FedAvg(rounds=4, training=TRAINING), cwru_iid)
    robust_clean, robust_clean_flags = _final_accuracy(RobustFedAvg(rounds=4, training=TRAINING), cwru_iid)
    attacked_plain, _ = _final_accuracy(FedAvg(rounds=4, training=TRAINING), cwru_iid, ATTACKS[attack_name])
    attacked_robust, flagged = _final_accuracy(
        RobustFedAvg(rounds=4, training=TRAINING), cwru_iid, ATTACKS[attack_name]
    )
    trimmed, _ = _final_accuracy(
        RobustFedAvg(rounds=4, training=TRAINING, robust=RobustSettings(rule="trimmed_mean")),
        cwru_iid,
        ATTACKS[attack_name],
    )
    assert clean > 0.9 and robust_clean_flags == set() and clean_flags == set()
    assert attacked_robust >= clean - 0.05
    assert trimmed >= clean - 0.05
    assert attacked_plain < clean - 0.05
    assert flagged == {ATTACKER}


@pytest.mark.parametrize("attack_name", list(ATTACKS))
def test_robust_fedma_rejects_the_attacker_on_non_iid_data(cwru_non_iid, attack_name):
    """On non-IID data a rejected participant's classes are partly lost with it, so the yardstick is
    a clean run of the four honest plants."""
    honest = replace(cwru_non_iid, clients={p: d for p, d in cwru_non_iid.clients.items() if p != ATTACKER})
    clean_honest, _ = _final_accuracy(FedMA(passes=1, training=TRAINING), honest)
    attacked_plain, _ = _final_accuracy(FedMA(passes=1, training=TRAINING), cwru_non_iid, ATTACKS[attack_name])
    attacked_robust, flagged = _final_accuracy(
        FedMA(passes=1, training=TRAINING, robust=RobustSettings()), cwru_non_iid, ATTACKS[attack_name]
    )
    assert attacked_robust >= clean_honest - 0.05
    assert attacked_plain < attacked_robust - 0.2
    assert flagged == {ATTACKER}
    _, clean_flags = _final_accuracy(FedMA(passes=1, training=TRAINING, robust=RobustSettings()), cwru_non_iid)
    assert clean_flags == set()


def test_outlying_rows_of_matched_neurons_are_rejected_and_their_owner_flagged():
    rng = np.random.default_rng(1)
    pool = rng.normal(size=(10, 30))
    layers = [pool[rng.permutation(10)] + rng.normal(0, 0.02, (10, 30)) for _ in range(4)]
    broken = layers[3] + rng.normal(0, 0.5, (10, 30))  # matched to the right neurons, but far off
    match = match_layer(layers[:3] + [broken], sigma=1.0, sigma0=1e6, gamma=1e-3)
    result = reject_neuron_outliers(layers[:3] + [broken], match, RobustSettings())
    assert list(result.flagged) == [3]
    assert result.rejected_rows[3].size == 10 and all(r.size == 0 for r in result.rejected_rows[:3])
    for i in range(10):
        honest = np.stack([layers[j][np.flatnonzero(match.assignments[j] == i)[0]] for j in range(3)])
        np.testing.assert_allclose(result.global_layer[i], honest.mean(axis=0), atol=1e-5)
    clean = match_layer(layers, **EXACT_RECOVERY_SETTINGS.as_keywords())
    assert reject_neuron_outliers(layers, clean, RobustSettings()).flagged == {}


def test_output_rows_of_an_outlying_class_holder_get_no_weight():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(3, 5)), rng.normal(size=3)
    layers = [(base[0] + rng.normal(0, 0.01, (3, 5)), base[1]) for _ in range(4)]
    layers[2] = (-5 * layers[2][0], layers[2][1])
    counts, flagged = reject_output_outliers(layers, [(10, 5, 0)] * 4, RobustSettings())
    assert list(flagged) == [2]
    np.testing.assert_array_equal(counts[2], [0, 0, 0])
    np.testing.assert_array_equal(counts[0], [10, 5, 0])
