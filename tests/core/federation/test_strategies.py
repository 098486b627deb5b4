import json
from dataclasses import replace

import numpy as np
import pytest

from federation.core.client import execute_instruction
from federation.core.envelope import MalformedEnvelope, encode_arrays
from federation.core.fedma import REFERENCE_SETTINGS, MatchingSettings
from federation.core.messages import ClientUpdate, TrainingConfig
from federation.core.persistence import decode_state, encode_state
from federation.core.privacy import PrivacySettings
from federation.core.robust import RobustSettings
from federation.core.simulation import run_in_process
from federation.core.specs import Conv1dSpec, ConvLayer, MLPSpec
from federation.core.strategies import FedAvg, FedMA, OneShotMatching, RobustFedAvg, strategy_from_dict
from federation.core.training import evaluate

CWRU_SPEC = MLPSpec(input_dim=52, hidden_sizes=(32, 32), num_classes=7)
CWRU_TRAINING = TrainingConfig(epochs=2, learning_rate=0.005, batch_size=32)


def synthetic_clients(shape, seed=0, clients=3, n=90, classes=3):
    """Class k lights up a block of the input; each client misses one class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n * clients)
    features = rng.normal(0, 0.4, (labels.size, int(np.prod(shape))))
    width = features.shape[1] // classes
    for k in range(classes):
        features[labels == k, k * width : (k + 1) * width] += 1.2
    features = features.reshape(-1, *shape)
    data = {}
    for j in range(clients):
        part = np.arange(j, labels.size, clients)
        part = part[labels[part] != j % classes]
        data[f"site-{j}"] = (features[part], labels[part])
    return data, (features, labels)


def test_fedavg_weights_models_by_sample_count():
    spec = MLPSpec(input_dim=2, hidden_sizes=(2,), num_classes=2)
    strategy = FedAvg(rounds=1)
    state = strategy.start(["a", "b"], spec)
    instructions = strategy.instructions(state)
    updates = {}
    for participant, value, count in (("a", 1.0, 10), ("b", 4.0, 30)):
        layers = [(np.full(w.shape, value), np.full(b.shape, value)) for w, b in instructions[participant].weights]
        updates[participant] = ClientUpdate(participant, 0, 0, layers, count, (count, 0), 0.1)
    state = strategy.aggregate(state, updates)
    for weight, bias in state.global_weights:
        np.testing.assert_allclose(weight, 0.25 * 1.0 + 0.75 * 4.0)
        np.testing.assert_allclose(bias, 3.25)
    assert strategy.is_finished(state) and strategy.instructions(state) == {}


def test_aggregate_refuses_updates_that_do_not_answer_the_step():
    spec = MLPSpec(input_dim=2, hidden_sizes=(3,), num_classes=2)
    strategy = FedAvg(rounds=2)
    state = strategy.start(["a"], spec)
    instruction = strategy.instructions(state)["a"]
    good = ClientUpdate("a", 0, 0, instruction.weights, 5, (5, 0), 0.1)
    with pytest.raises(ValueError, match="not asked"):
        strategy.aggregate(state, {"z": replace(good, participant="z")})
    with pytest.raises(ValueError, match="does not answer step"):
        strategy.aggregate(state, {"a": replace(good, step=1)})
    bad_layers = [(np.zeros((4, 2)), np.zeros(4)), instruction.weights[1]]
    with pytest.raises(ValueError, match="does not fit"):
        strategy.aggregate(state, {"a": replace(good, layers=bad_layers)})
    with pytest.raises(ValueError, match="no updates"):
        strategy.aggregate(state, {})
    broken = [(np.full_like(w, np.nan), b) for w, b in instruction.weights]
    with pytest.raises(ValueError, match="non-finite"):
        strategy.aggregate(state, {"a": replace(good, layers=broken)})
    fedma = FedMA(passes=1)
    fedma_state = fedma.start(["a", "b"], spec)
    answers = {
        p: ClientUpdate(p, 0, 0, [(np.full_like(w, np.inf), b) for w, b in i.weights], 5, (5, 0), 0.1)
        for p, i in fedma.instructions(fedma_state).items()
    }
    with pytest.raises(ValueError, match="non-finite"):
        fedma.aggregate(fedma_state, answers)


def test_fedma_beats_fedavg_on_non_iid_cwru_after_the_same_rounds(cwru_non_iid):
    """Each plant sees healthy data and 2 of 6 fault classes. One FedMA pass of this 3-layer MLP is
    3 communication rounds; compare with FedAvg after 3 and 6 rounds."""
    evaluation = cwru_non_iid.test
    fedavg = FedAvg(rounds=6, training=CWRU_TRAINING)
    _, fedavg_rounds = run_in_process(
        fedavg, fedavg.start(list(cwru_non_iid.clients), CWRU_SPEC), cwru_non_iid.clients, evaluation=evaluation
    )
    fedma = FedMA(passes=2, training=CWRU_TRAINING)
    state, fedma_rounds = run_in_process(
        fedma, fedma.start(list(cwru_non_iid.clients), CWRU_SPEC), cwru_non_iid.clients, evaluation=evaluation
    )
    assert [r.rounds for r in fedma_rounds if r.new_global_model] == [3, 6]
    for rounds in (3, 6):
        fedma_accuracy = fedma_rounds[rounds - 1].metrics.accuracy
        fedavg_accuracy = fedavg_rounds[rounds - 1].metrics.accuracy
        assert fedma_accuracy > fedavg_accuracy + 0.1, (rounds, fedma_accuracy, fedavg_accuracy)
    assert fedma_rounds[-1].metrics.accuracy > 0.85
    # matched averaging may grow the hidden layers, never shrink them below a client's size
    assert all(width >= 32 for width in state.global_spec.hidden_sizes)


@pytest.mark.parametrize(
    "spec, shape",
    [
        (MLPSpec(input_dim=12, hidden_sizes=(10,), num_classes=3), (12,)),
        (MLPSpec(input_dim=12, hidden_sizes=(10, 9, 8, 7), num_classes=3), (12,)),
        (
            Conv1dSpec(
                input_channels=1, input_length=24,
                conv_layers=(ConvLayer(5, 3, pool_size=2), ConvLayer(6, 3)), dense_hidden_sizes=(8,), num_classes=3,
            ),
            (1, 24),
        ),
    ],
    ids=["one-hidden-layer", "four-hidden-layers", "cnn"],
)
def test_fedma_runs_any_depth_and_clients_of_different_sizes(spec, shape):
    data, evaluation = synthetic_clients(shape)
    specs = {"site-1": spec.with_hidden_widths([w + 2 for w in spec.hidden_widths]),
             "site-2": spec.with_hidden_widths([max(2, w - 3) for w in spec.hidden_widths])}
    strategy = FedMA(passes=2, training=TrainingConfig(epochs=4, learning_rate=0.01, batch_size=16))
    state = strategy.start(list(data), spec, participant_specs=specs)
    instructions = strategy.instructions(state)
    assert instructions["site-1"].spec.hidden_widths == specs["site-1"].hidden_widths
    state, rounds = run_in_process(strategy, state, data, evaluation=evaluation)
    assert len(rounds) == 2 * spec.layer_count
    widths = state.global_spec.hidden_widths
    largest = [max(s.hidden_widths[i] for s in (spec, *specs.values())) for i in range(len(widths))]
    assert all(w >= m for w, m in zip(widths, largest))
    assert rounds[-1].metrics.accuracy > 0.8
    # the next pass would start every participant from a model of its own size
    assert state.working_models["site-2"][0][0].shape[0] == specs["site-2"].hidden_widths[0]


def test_fedma_can_restart_each_pass_from_the_whole_global_model():
    data, evaluation = synthetic_clients((12,), seed=4)
    spec = MLPSpec(input_dim=12, hidden_sizes=(8, 6), num_classes=3)
    strategy = FedMA(passes=2, restart="global", training=TrainingConfig(epochs=3, learning_rate=0.01))
    state = strategy.start(list(data), spec)
    for _ in range(spec.layer_count):
        updates = {p: execute_instruction(i, *data[p]) for p, i in strategy.instructions(state).items()}
        state = strategy.aggregate(state, updates)
    assert state.pass_index == 1
    for participant in data:
        assert state.participant_specs[participant] == state.global_spec
        for (w, b), (gw, gb) in zip(state.working_models[participant], state.global_weights):
            np.testing.assert_array_equal(w, gw)
    with pytest.raises(ValueError, match="restart"):
        FedMA(passes=1, restart="sometimes")


def test_one_shot_matching_is_one_round():
    data, evaluation = synthetic_clients((12,), seed=1)
    spec = MLPSpec(input_dim=12, hidden_sizes=(16, 12), num_classes=3)
    strategy = OneShotMatching(training=TrainingConfig(epochs=15, learning_rate=0.01, batch_size=16))
    state, rounds = run_in_process(strategy, strategy.start(list(data), spec), data, evaluation=evaluation)
    assert [r.rounds for r in rounds] == [1]
    assert rounds[0].metrics.accuracy > 0.6


def test_strategies_are_interchangeable_and_deterministic():
    data, evaluation = synthetic_clients((12,), seed=2)
    spec = MLPSpec(input_dim=12, hidden_sizes=(8, 6), num_classes=3)
    training = TrainingConfig(epochs=6, learning_rate=0.01, batch_size=16)
    for make in (
        lambda: FedAvg(rounds=2, training=training),
        lambda: RobustFedAvg(rounds=2, training=training),
        lambda: FedMA(passes=1, training=training, matching=MatchingSettings(iterations=2)),
        lambda: OneShotMatching(training=training),
    ):
        results = []
        for _ in range(2):
            strategy = make()
            state, _ = run_in_process(strategy, strategy.start(list(data), spec), data)
            results.append(state)
        assert strategy.is_finished(results[0])
        for (w1, b1), (w2, b2) in zip(results[0].global_weights, results[1].global_weights):
            np.testing.assert_array_equal(w1, w2)
            np.testing.assert_array_equal(b1, b2)
        assert evaluate(results[0].global_spec, results[0].global_weights, *evaluation).accuracy > 0.5


def test_fedavg_refuses_participants_with_other_architectures():
    spec = MLPSpec(input_dim=4, hidden_sizes=(5,), num_classes=2)
    with pytest.raises(ValueError, match="same model spec"):
        FedAvg(rounds=1).start(["a", "b"], spec, participant_specs={"b": spec.with_hidden_widths((6,))})
    with pytest.raises(ValueError, match="only hidden widths"):
        FedMA(passes=1).start(["a"], spec, participant_specs={"a": MLPSpec(5, (5,), 2)})


def test_a_participant_that_misses_a_step_sits_out_the_pass_and_rejoins():
    data, _ = synthetic_clients((12,), seed=3)
    spec = MLPSpec(input_dim=12, hidden_sizes=(8, 6), num_classes=3)
    strategy = FedMA(passes=2, training=TrainingConfig(epochs=2, learning_rate=0.01))
    state = strategy.start(list(data), spec)
    for step in range(3):
        updates = {
            p: execute_instruction(i, *data[p])
            for p, i in strategy.instructions(state).items()
            if not (p == "site-0" and step == 1)
        }
        state = strategy.aggregate(state, updates)
        if step == 1:
            assert "site-0" not in state.active
    assert state.pass_index == 1 and "site-0" in state.active
    assert state.participant_specs["site-0"] == state.global_spec  # rejoins from the whole global model


@pytest.mark.parametrize("strategy_name", ["fedma", "robust_fedavg"])
def test_a_task_resumes_from_its_persisted_state(strategy_name):
    """Persist the state after every step, rebuild it from bytes, and continue: the result is
    bit-identical to an uninterrupted run."""
    data, _ = synthetic_clients((12,), seed=5)
    spec = MLPSpec(input_dim=12, hidden_sizes=(7, 5), num_classes=3)
    training = TrainingConfig(epochs=2, learning_rate=0.01)

    def make():
        if strategy_name == "fedma":
            return FedMA(passes=2, training=training)
        return RobustFedAvg(rounds=3, training=training)

    strategy = make()
    uninterrupted, _ = run_in_process(strategy, strategy.start(list(data), spec), data)
    state = strategy.start(list(data), spec)
    while not strategy.is_finished(state):
        updates = {p: execute_instruction(i, *data[p]) for p, i in strategy.instructions(state).items()}
        state = decode_state(encode_state(strategy.aggregate(state, updates)))
        strategy = make()  # a restarted aggregator
    assert type(state) is type(uninterrupted) and state.step == uninterrupted.step
    assert state.global_spec == uninterrupted.global_spec
    for (w1, b1), (w2, b2) in zip(state.global_weights, uninterrupted.global_weights):
        np.testing.assert_array_equal(w1, w2)
        np.testing.assert_array_equal(b1, b2)
    with pytest.raises(MalformedEnvelope):
        decode_state(encode_arrays([], {"kind": "something-else"}))


def test_strategies_are_named_and_rebuilt_from_json_configuration():
    privacy = PrivacySettings(clip_norm=1.0, noise_multiplier=1.2, epsilon_budget=5.0)
    configured = [
        FedAvg(rounds=3, training=TrainingConfig(epochs=4), privacy=privacy, seed=9),
        RobustFedAvg(rounds=2, robust=RobustSettings(rule="trimmed_mean", trim_fraction=0.1)),
        FedMA(passes=2, matching=REFERENCE_SETTINGS, robust=RobustSettings(), restart="global"),
        OneShotMatching(matching=MatchingSettings(gamma=2.0)),
    ]
    for strategy in configured:
        data = json.loads(json.dumps(strategy.to_dict()))
        rebuilt = strategy_from_dict(data)
        assert type(rebuilt) is type(strategy)
        assert rebuilt.to_dict() == strategy.to_dict()
    assert strategy_from_dict(configured[0].to_dict()).privacy == privacy
    with pytest.raises(ValueError, match="unknown strategy"):
        strategy_from_dict({"name": "fedsgd"})
