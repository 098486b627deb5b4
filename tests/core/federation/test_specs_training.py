import json

import numpy as np
import pytest
import torch

from federation.core.fedma import remap_input_units, restrict_input_units
from federation.core.messages import TrainingConfig
from federation.core.specs import (
    Conv1dSpec,
    ConvLayer,
    MLPSpec,
    check_weights,
    layer_rows,
    rows_to_layer,
    spec_from_dict,
)
from federation.core.training import (
    build_module,
    evaluate,
    initial_weights,
    module_weights,
    predict_probabilities,
    train_local,
)

CNN = Conv1dSpec(
    input_channels=2,
    input_length=30,
    conv_layers=(ConvLayer(4, 5, pool_size=2), ConvLayer(6, 3, pool_size=2)),
    dense_hidden_sizes=(7,),
    num_classes=3,
)
MLP = MLPSpec(input_dim=6, hidden_sizes=(8, 5, 4), num_classes=3)


def _toy_problem(n=120, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    features = rng.normal(0, 0.5, (n, dim))
    features[np.arange(n), labels] += 2.0
    return features, labels


@pytest.mark.parametrize("spec", [MLP, CNN])
def test_spec_round_trips_through_json(spec):
    data = json.loads(json.dumps(spec.to_dict()))
    assert spec_from_dict(data) == spec


def test_spec_from_dict_refuses_unknown_kind_and_version():
    with pytest.raises(ValueError, match="unknown model kind"):
        spec_from_dict({"kind": "transformer", "version": 1})
    with pytest.raises(ValueError, match="version"):
        spec_from_dict({**MLP.to_dict(), "version": 99})
    with pytest.raises(ValueError, match="malformed"):
        spec_from_dict({"kind": "mlp", "version": 1, "input_dim": 3})
    with pytest.raises(ValueError, match="positive integer"):
        MLPSpec(input_dim=0, hidden_sizes=(3,), num_classes=2)
    with pytest.raises(ValueError, match="too short"):
        Conv1dSpec(1, 4, (ConvLayer(2, 5),), (), 2)


@pytest.mark.parametrize("spec", [MLP, CNN])
def test_parameter_shapes_match_the_torch_module(spec):
    module = build_module(spec)
    shapes = [(tuple(m.weight.shape), tuple(m.bias.shape)) for m in module.parametric_layers]
    assert shapes == spec.parameter_shapes()
    assert spec.layer_count == len(shapes)
    assert spec.with_hidden_widths(spec.hidden_widths) == spec


def test_weights_export_and_import_as_plain_arrays():
    weights = initial_weights(CNN, seed=3)
    assert all(isinstance(w, np.ndarray) and isinstance(b, np.ndarray) for w, b in weights)
    module = build_module(CNN, weights)
    for (w, b), (w2, b2) in zip(weights, module_weights(module)):
        np.testing.assert_allclose(w, w2, atol=1e-7)
        np.testing.assert_allclose(b, b2, atol=1e-7)
    bad = [(w.copy(), b.copy()) for w, b in weights]
    bad[1] = (bad[1][0][:, :2], bad[1][1])
    with pytest.raises(ValueError, match="layer 1"):
        check_weights(CNN, bad)
    bad = [(w.copy(), b.copy()) for w, b in weights]
    bad[0][1][0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        check_weights(CNN, bad)


def test_rows_round_trip_for_conv_layers():
    weight = np.arange(4 * 2 * 5, dtype=float).reshape(4, 2, 5)
    bias = np.arange(4, dtype=float)
    rows = layer_rows(weight, bias)
    assert rows.shape == (4, 11)
    np.testing.assert_array_equal(rows[:, -1], bias)
    back_weight, back_bias = rows_to_layer(rows, (2, 5))
    np.testing.assert_array_equal(back_weight, weight)
    np.testing.assert_array_equal(back_bias, bias)


def test_input_blocks_follow_torch_flattening_for_cnn():
    """Permuting a hidden layer's units and moving the next layer's input blocks with
    ``input_block_sizes`` must leave the function unchanged (conv->conv, conv->dense, dense->dense)."""
    rng = np.random.default_rng(0)
    weights = initial_weights(CNN, seed=0)
    features = rng.normal(size=(9, 2, 30))
    before = predict_probabilities(CNN, weights, features)
    permuted = [list(pair) for pair in weights]
    for layer, block in enumerate(CNN.input_block_sizes()):
        order = rng.permutation(permuted[layer][0].shape[0])
        permuted[layer][0], permuted[layer][1] = permuted[layer][0][order], permuted[layer][1][order]
        nxt = permuted[layer + 1][0]
        assert np.prod(nxt.shape[1:]) == order.size * block
        # The unit at new position k is old unit order[k]: its inputs move to block k.
        inverse = np.argsort(order)
        permuted[layer + 1][0] = remap_input_units(nxt, inverse, order.size)
    after = predict_probabilities(CNN, [tuple(p) for p in permuted], features)
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_restrict_is_the_inverse_of_remap():
    rng = np.random.default_rng(1)
    weight = rng.normal(size=(3, 4 * 5))
    assignment = np.array([6, 0, 3, 2])
    remapped = remap_input_units(weight, assignment, 7)
    assert remapped.shape == (3, 35)
    assert np.all(remapped.reshape(3, 7, 5)[:, [1, 4, 5]] == 0)
    np.testing.assert_array_equal(restrict_input_units(remapped, assignment, 7), weight)


@pytest.mark.parametrize("spec", [MLP, CNN])
def test_local_training_is_deterministic_under_a_seed(spec):
    rng = np.random.default_rng(2)
    features = rng.normal(size=(40, *spec.input_shape))
    labels = rng.integers(0, 3, 40)
    config = TrainingConfig(epochs=2, learning_rate=0.01, batch_size=8)
    start = initial_weights(spec, seed=0)
    first, report = train_local(spec, start, features, labels, config=config, seed=5)
    second, _ = train_local(spec, start, features, labels, config=config, seed=5)
    other, _ = train_local(spec, start, features, labels, config=config, seed=6)
    for (w1, b1), (w2, b2) in zip(first, second):
        np.testing.assert_array_equal(w1, w2)
        np.testing.assert_array_equal(b1, b2)
    assert any(not np.array_equal(w1, w3) for (w1, _), (w3, _) in zip(first, other))
    assert report.num_samples == 40 and sum(report.class_counts) == 40
    # Training leaves the caller's global torch settings as they were.
    assert not torch.are_deterministic_algorithms_enabled()


def test_frozen_layers_stay_fixed_and_the_rest_learns():
    features, labels = _toy_problem()
    start = initial_weights(MLP, seed=0)
    config = TrainingConfig(epochs=30, learning_rate=0.02, batch_size=16)
    trained, report = train_local(MLP, start, features, labels, config=config, seed=0, frozen_layers=2)
    for layer in range(2):
        np.testing.assert_array_equal(trained[layer][0], start[layer][0])
        np.testing.assert_array_equal(trained[layer][1], start[layer][1])
    assert not np.array_equal(trained[2][0], start[2][0])
    assert evaluate(MLP, trained, features, labels).accuracy > evaluate(MLP, start, features, labels).accuracy
    assert report.final_loss < 1.0


def test_cnn_learns_a_spectral_peak():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 150)
    spectra = rng.normal(0, 0.3, (150, 2, 30))
    for k in range(3):
        spectra[labels == k, 0, 4 + 8 * k : 8 + 8 * k] += 1.5
    config = TrainingConfig(epochs=15, learning_rate=0.01, batch_size=16)
    trained, _ = train_local(CNN, initial_weights(CNN, seed=0), spectra, labels, config=config, seed=0)
    assert evaluate(CNN, trained, spectra, labels).accuracy > 0.9


def test_training_refuses_bad_inputs():
    features, labels = _toy_problem()
    start = initial_weights(MLP, seed=0)
    config = TrainingConfig(epochs=1)
    with pytest.raises(ValueError, match="labels must lie"):
        train_local(MLP, start, features, labels + 5, config=config, seed=0)
    with pytest.raises(ValueError, match="do not fit input"):
        train_local(MLP, start, features[:, :4], labels, config=config, seed=0)
    with pytest.raises(ValueError, match="optimizer"):
        TrainingConfig(optimizer="lbfgs")
