"""The properties FEDMA.md asks of BBP-MAP matching, single layers and whole networks."""
import numpy as np
import pytest

from scipy.optimize import linear_sum_assignment

from federation.core.fedma import (
    DEFAULT_PRIOR_RATIO,
    EXACT_RECOVERY_SETTINGS,
    REFERENCE_SETTINGS,
    _MatchingState,
    client_model_from_global,
    combine_output_layers,
    default_sigma,
    match_layer,
    match_networks,
    remap_input_units,
)

EXACT = EXACT_RECOVERY_SETTINGS.as_keywords()


def forward(weights, features):
    """float64 forward pass of a dense ReLU network (logits)."""
    activations = features
    for index, (weight, bias) in enumerate(weights):
        activations = activations @ weight.T + bias
        if index < len(weights) - 1:
            activations = np.maximum(activations, 0)
    return activations


def random_mlp(rng, sizes, scale=0.6):
    return [
        (rng.normal(0, scale, (out, inp)), rng.normal(0, scale, out)) for inp, out in zip(sizes[:-1], sizes[1:])
    ]


def permute_hidden(weights, orders):
    """The same function with hidden layer n's neurons reordered by ``orders[n]``."""
    permuted, previous = [], None
    for index, (weight, bias) in enumerate(weights):
        if previous is not None:
            weight = weight[:, previous]
        if index < len(weights) - 1:
            weight, bias = weight[orders[index]], bias[orders[index]]
            previous = orders[index]
        permuted.append((weight.copy(), bias.copy()))
    return permuted


# --- the score matrix ---------------------------------------------------------------------------


def naive_scores(state, client):
    """FEDMA.md's per-row formulas, looped, with client ``client`` already removed."""
    lam, lam0 = state.precision, state.prior_precision
    rows = state.rows[client]
    observed = state.observed[client] if state.masked else np.ones(rows.shape[1], dtype=bool)
    existing, row_count = state.natural.shape[0], rows.shape[0]
    scores = np.zeros((row_count, existing + row_count))
    for l in range(row_count):
        w = rows[l]
        for i in range(existing):
            h = state.natural[i]
            count = state.counts[i] if state.masked else np.full(rows.shape[1], state.counts[i])
            precision = lam0 + lam * count
            lam_j = lam * observed
            terms = (lam_j * w + h) ** 2 / (lam_j + precision) - h**2 / precision
            m = state.popularity[i]
            scores[l, i] = terms.sum() + np.log(m / (state.client_count - m))
        mu0 = state.prior_mean
        fresh = ((lam * w + lam0 * mu0) ** 2 / (lam + lam0) - lam0 * mu0**2)[observed].sum()
        for k in range(1, row_count + 1):
            scores[l, existing + k - 1] = fresh - 2 * np.log(k) + 2 * np.log(state.gamma / state.client_count)
    return scores


@pytest.mark.parametrize(
    "masked, single", [(False, False), (True, False), (False, True)], ids=["float64", "masked", "float32"]
)
def test_vectorised_scores_equal_the_per_row_formula(masked, single):
    rng = np.random.default_rng(0)
    rows = [rng.normal(size=(n, 7)) for n in (5, 4, 6)]
    observed = [rng.random(7) < 0.7 for _ in rows] if masked else None
    state = _MatchingState(rows, observed, 1 / 0.7, 1 / 3.0, rng.normal(size=7), 2.0, None, single_precision=single)
    state.add(0, np.arange(5))
    state.assign(1)
    state.assign(2)
    state.remove(1)
    tolerance = 1e-5 if single else 1e-10
    np.testing.assert_allclose(-state.costs(1), naive_scores(state, 1), rtol=tolerance, atol=tolerance)


def plain_match_layer(layers, *, sigma, sigma0, gamma, iterations=5, seed=0, observed=None, popularity_cap=None):
    """FEDMA.md's BBP-MAP written plainly: every score recomputed from the neurons' members with the
    per-coordinate formula, members kept as {client: row} dicts, no caching or deferred updates."""
    lam, lam0 = 1.0 / sigma, 1.0 / sigma0
    client_count, dimension = len(layers), layers[0].shape[1]
    masks = [np.ones(dimension, bool)] * client_count if observed is None else observed
    neurons: list[dict[int, int]] = []

    def statistics(members):
        natural = sum((lam * layers[k][l] * masks[k] for k, l in members.items()), np.zeros(dimension))
        precision = lam0 + lam * sum((masks[k].astype(float) for k in members), np.zeros(dimension))
        return natural, precision

    def assign(client):
        rows, seen = layers[client], masks[client]
        count, existing = rows.shape[0], len(neurons)
        scores = np.empty((count, existing + count))
        for i, members in enumerate(neurons):
            h, precision = statistics(members)
            own = lam * seen
            support = len(members) if popularity_cap is None else min(len(members), popularity_cap)
            scores[:, i] = ((own * rows + h) ** 2 / (own + precision) - h**2 / precision).sum(axis=1) + np.log(
                support / (client_count - support)
            )
        fresh = ((lam * rows) ** 2 / (lam + lam0) * seen).sum(axis=1)
        ks = np.arange(1, count + 1)
        scores[:, existing:] = fresh[:, None] - 2 * np.log(ks)[None, :] + 2 * np.log(gamma / client_count)
        row_index, columns = linear_sum_assignment(-scores)
        targets = np.empty(count, dtype=int)
        targets[row_index] = columns
        opened = targets >= existing
        targets[opened] = existing + np.arange(opened.sum())
        for row, target in enumerate(targets):
            if target == len(neurons):
                neurons.append({})
            neurons[target][client] = row

    def remove(client):
        for members in neurons:
            members.pop(client, None)
        neurons[:] = [members for members in neurons if members]

    by_size = sorted(range(client_count), key=lambda j: (-layers[j].shape[0], j))
    neurons.extend({by_size[0]: row} for row in range(layers[by_size[0]].shape[0]))
    for client in by_size[1:]:
        assign(client)
    rng = np.random.default_rng(seed)
    for _ in range(iterations):
        for client in rng.permutation(client_count):
            remove(int(client))
            assign(int(client))
    assignments = [np.empty(layer.shape[0], dtype=int) for layer in layers]
    for i, members in enumerate(neurons):
        for k, l in members.items():
            assignments[k][l] = i
    global_layer = np.array([np.divide(*statistics(members)) for members in neurons])
    return global_layer, assignments


@pytest.mark.parametrize("case", ["defaults", "reference", "masked", "few-iterations"])
def test_match_layer_equals_a_plain_implementation(case):
    """The cached, deferred bookkeeping of match_layer (reused cost columns, lazy removal, in-place
    compaction of dead neurons) gives exactly what plain recomputation gives."""
    rng = np.random.default_rng(11)
    pool = rng.normal(0, 0.5, size=(14, 6))
    sizes = (9, 11, 6, 10, 8)
    layers = [pool[rng.choice(14, n, replace=False)] + rng.normal(0, 0.15, (n, 6)) for n in sizes]
    layers[2] = rng.normal(0, 0.5, (6, 6))  # unrelated rows: neurons open and die during refinement
    observed = [rng.random(6) < 0.75 for _ in sizes] if case == "masked" else None
    if observed is not None:
        for mask in observed:
            mask[-1] = True
    sigma = default_sigma(layers, observed)
    settings = dict(sigma=sigma, sigma0=DEFAULT_PRIOR_RATIO * sigma, gamma=1.0, iterations=5, seed=4)
    if case == "reference":
        settings.update(sigma=1.0, sigma0=1.0, gamma=7.0, popularity_cap=10)
    if case == "few-iterations":
        settings.update(iterations=2, gamma=0.2)
    match = match_layer(layers, observed=observed, **settings)
    global_layer, assignments = plain_match_layer(layers, observed=observed, **settings)
    for ours, plain in zip(match.assignments, assignments):
        np.testing.assert_array_equal(ours, plain)
    np.testing.assert_allclose(match.global_layer, global_layer, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("related", [False, True], ids=["unrelated-rows", "noisy-copies"])
def test_reused_cost_columns_equal_the_per_row_formula_through_refinement(related):
    """Between two matchings of a client, other clients' rows move (neurons keep, open or lose
    holders): every reused or recomputed cost column must still equal the per-row formula."""
    rng = np.random.default_rng(12)
    pool = rng.normal(size=(7, 7))
    rows = [
        pool[rng.permutation(7)[:n]] + rng.normal(0, 0.6, (n, 7)) if related else rng.normal(size=(n, 7))
        for n in (6, 5, 7, 4)
    ]
    state = _MatchingState(rows, None, 1 / 0.7, 1 / 3.0, rng.normal(size=7), 2.0, None, single_precision=False)
    state.add(2, np.arange(7))
    for client in (0, 1, 3):
        state.assign(client)
    for client in rng.integers(0, 4, size=24):
        state.remove(int(client))
        costs = state.costs(int(client)).copy()  # columns reused from this client's previous matching
        np.testing.assert_allclose(-costs, naive_scores(state, int(client)), rtol=1e-10, atol=1e-10)
        state.assign(int(client))
    natural = np.tile(state.prior_natural, (state.natural.shape[0], 1))
    for client, targets in enumerate(state.assignments):
        natural[targets] += state.precision * rows[client]
    np.testing.assert_allclose(state.natural, natural, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_cost_columns_follow_rows_moved_between_existing_neurons(masked):
    """Another client swapping rows between neurons that stay alive (same neuron ids, new holders)
    must invalidate exactly those columns of a client's reused cost matrix."""
    rng = np.random.default_rng(13)
    rows = [rng.normal(size=(n, 5)) for n in (5, 4, 3)]
    observed = [rng.random(5) < 0.7 for _ in rows] if masked else None
    state = _MatchingState(rows, observed, 1 / 0.7, 1 / 3.0, rng.normal(size=5), 2.0, None, single_precision=False)
    state.add(0, np.arange(5))
    state.add(1, np.array([0, 1, 2, 3]))
    state.add(2, np.array([0, 1, 2]))
    state.remove(2)
    state.costs(2)  # cached for client 2
    state.add(2, np.array([0, 1, 2]))
    state.remove(1)
    state.add(1, np.array([1, 0, 4, 2]))  # neurons 0, 1, 2, 3, 4 all survive; holders change
    state.remove(2)
    np.testing.assert_allclose(-state.costs(2), naive_scores(state, 2), rtol=1e-10, atol=1e-10)


# --- FEDMA.md properties --------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [EXACT, {}], ids=["exact-recovery", "defaults"])
def test_permuted_copies_give_the_same_function_while_fedavg_does_not(settings):
    rng = np.random.default_rng(1)
    original = random_mlp(rng, [6, 12, 9, 3])
    clients = [permute_hidden(original, [rng.permutation(12), rng.permutation(9)]) for _ in range(4)]
    features = rng.normal(size=(50, 6))
    matched = match_networks(clients, **settings)
    assert [w.shape for w, _ in matched] == [w.shape for w, _ in original]
    np.testing.assert_allclose(forward(matched, features), forward(original, features), rtol=1e-5, atol=1e-5)
    if settings is EXACT:
        np.testing.assert_allclose(forward(matched, features), forward(original, features), atol=1e-9)
    averaged = [(np.mean([c[i][0] for c in clients], 0), np.mean([c[i][1] for c in clients], 0)) for i in range(3)]
    assert np.abs(forward(averaged, features) - forward(original, features)).max() > 0.1


def test_one_client_comes_back_unchanged():
    rng = np.random.default_rng(2)
    rows = rng.normal(0, 0.1, size=(16, 9))
    match = match_layer([rows], **EXACT)
    np.testing.assert_allclose(match.global_layer, rows, atol=1e-9)
    np.testing.assert_array_equal(match.assignments[0], np.arange(16))
    network = random_mlp(rng, [5, 7, 4, 2])
    for (w, b), (w2, b2) in zip(match_networks([network], **EXACT), network):
        np.testing.assert_allclose(w, w2, atol=1e-9)
        np.testing.assert_allclose(b, b2, atol=1e-9)
    # The library's defaults keep it too (near-flat prior); the reference setting halves it.
    np.testing.assert_allclose(match_layer([rows]).global_layer, rows, rtol=1e-5)
    reference = match_layer([rows], **REFERENCE_SETTINGS.as_keywords())
    np.testing.assert_allclose(reference.global_layer, rows / 2, atol=1e-12)


@pytest.mark.parametrize("settings", [EXACT, {}], ids=["exact-recovery", "defaults"])
def test_subsets_give_the_union_and_each_neuron_is_the_mean_of_its_holders(settings):
    rng = np.random.default_rng(3)
    pool = rng.normal(0, 1.0, size=(20, 24))
    held = [np.sort(rng.choice(20, size, replace=False)) for size in (12, 8, 15, 10)]
    layers = [pool[h] + rng.normal(0, 1e-3, (h.size, 24)) for h in held]
    union = np.unique(np.concatenate(held))
    match = match_layer(layers, **settings)
    assert match.global_layer.shape[0] == union.size
    for i in range(union.size):
        members = [layers[j][np.flatnonzero(a == i)] for j, a in enumerate(match.assignments)]
        members = np.concatenate([m for m in members if m.size])
        np.testing.assert_allclose(match.global_layer[i], members.mean(axis=0), rtol=1e-5, atol=1e-9)
        # holders of one global neuron all came from the same pool neuron
        sources = {int(held[j][l]) for j, a in enumerate(match.assignments) for l in np.flatnonzero(a == i)}
        assert len(sources) == 1


def test_networks_with_different_hidden_sizes_match_to_the_pool_network():
    """Clients hold different subsets of a pool network's first hidden layer (so their second
    layer sees only some of its inputs); one-shot matching rebuilds the pool network's function."""
    rng = np.random.default_rng(4)
    pool = random_mlp(rng, [5, 14, 6, 3])
    (w1, b1), (w2, b2), (w3, b3) = pool
    keeps = [np.sort(rng.choice(14, size, replace=False)) for size in (9, 11, 7)]
    keeps.append(np.setdiff1d(np.arange(14), np.concatenate(keeps)))  # together they cover the pool
    keeps[-1] = np.union1d(keeps[-1], [0, 1, 2])
    clients = []
    for keep in keeps:
        order = rng.permutation(keep.size)
        out_order = rng.permutation(6)
        clients.append(
            [
                (w1[keep][order], b1[keep][order]),
                (w2[out_order][:, keep[order]], b2[out_order]),
                (w3[:, out_order], b3),
            ]
        )
    assert len({c[0][0].shape[0] for c in clients}) > 1
    matched = match_networks(clients, **EXACT)
    assert [w.shape[0] for w, _ in matched] == [14, 6, 3]
    features = rng.normal(size=(40, 5))
    np.testing.assert_allclose(forward(matched, features), forward(pool, features), atol=1e-8)


def test_same_seed_same_result_and_client_order_changes_only_labels():
    rng = np.random.default_rng(5)
    pool = rng.normal(0, 1.0, size=(25, 8))
    layers = [pool[np.sort(rng.choice(25, n, replace=False))] + rng.normal(0, 0.01, (n, 8)) for n in (15, 18, 12, 20)]
    first, second = match_layer(layers, seed=3), match_layer(layers, seed=3)
    np.testing.assert_array_equal(first.global_layer, second.global_layer)
    for a, b in zip(first.assignments, second.assignments):
        np.testing.assert_array_equal(a, b)
    order = [2, 0, 3, 1]
    shuffled = match_layer([layers[j] for j in order], seed=3)
    assert shuffled.global_layer.shape == first.global_layer.shape
    # relabelling: global neuron i of the first run is neuron relabel[i] of the shuffled run
    relabel = np.empty(first.global_layer.shape[0], dtype=int)
    for position, j in enumerate(order):
        relabel[first.assignments[j]] = shuffled.assignments[position]
    np.testing.assert_allclose(shuffled.global_layer[relabel], first.global_layer, atol=1e-10)


@pytest.mark.parametrize(
    "settings",
    [EXACT, {}, REFERENCE_SETTINGS.as_keywords(), {"gamma": 50.0}, {"sigma": 1e-4, "iterations": 0}],
    ids=["exact", "defaults", "reference", "large-gamma", "no-refinement"],
)
def test_invariants_on_unrelated_clients(settings):
    rng = np.random.default_rng(6)
    sizes = [7, 13, 4, 10, 9]
    layers = [rng.normal(0, 0.3, (n, 6)) for n in sizes]
    match = match_layer(layers, **settings)
    size = match.global_layer.shape[0]
    assert max(sizes) <= size <= sum(sizes)
    for assignment, n in zip(match.assignments, sizes):
        assert assignment.shape == (n,)
        assert np.unique(assignment).size == n  # injective
        assert assignment.min() >= 0 and assignment.max() < size
    assert match.popularity.sum() == sum(sizes)
    counted = np.bincount(np.concatenate(match.assignments), minlength=size)
    np.testing.assert_array_equal(counted, match.popularity)
    assert len(match.problem_shapes) == len(sizes) - 1 + settings.get("iterations", 5) * len(sizes)


def test_default_sigma_follows_the_scale_of_the_weights():
    rng = np.random.default_rng(7)
    pool = rng.normal(size=(12, 10))
    layers = [pool[rng.permutation(12)[:9]] + rng.normal(0, 0.3, (9, 10)) for _ in range(3)]
    small = match_layer(layers)
    large = match_layer([10.0 * layer for layer in layers])
    for a, b in zip(small.assignments, large.assignments):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(large.global_layer, 10.0 * small.global_layer, rtol=1e-9)
    assert large.sigma == pytest.approx(100 * small.sigma)


def test_match_layer_refuses_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        match_layer([])
    with pytest.raises(ValueError, match="client 1"):
        match_layer([np.zeros((3, 4)), np.zeros((3, 5))])
    with pytest.raises(ValueError, match="non-finite"):
        match_layer([np.full((2, 3), np.nan)])
    with pytest.raises(ValueError, match="sigma"):
        match_layer([np.ones((2, 3))], sigma=-1.0)


# --- output layer and layer remapping --------------------------------------------------------------


def test_output_layer_is_weighted_by_class_shares_and_never_divides_by_zero():
    weights = [np.full((3, 2), 1.0), np.full((3, 2), 3.0)]
    biases = [np.array([1.0, 1.0, 1.0]), np.array([3.0, 3.0, 3.0])]
    counts = [np.array([10, 0, 0]), np.array([30, 5, 0])]  # class 2: nobody has samples
    weight, bias = combine_output_layers(list(zip(weights, biases)), counts)
    np.testing.assert_allclose(weight[0], 2.5)  # 0.25 * 1 + 0.75 * 3
    np.testing.assert_allclose(weight[1], 3.0)  # only client 1 has class 1
    np.testing.assert_allclose(weight[2], 2.0)  # plain mean
    np.testing.assert_allclose(bias, [2.5, 3.0, 2.0])
    # a column that no class-1 holder observes falls back to the mean of its observers
    observed = [np.array([True, True]), np.array([True, False])]
    weight, _ = combine_output_layers(list(zip(weights, biases)), counts, observed)
    assert np.all(np.isfinite(weight))
    assert weight[1, 1] == pytest.approx(1.0)


def test_client_model_from_global_restricts_rows_and_inputs():
    rng = np.random.default_rng(8)
    global_weights = random_mlp(rng, [4, 9, 7, 3])
    assignments = (np.array([8, 2, 5]), np.array([6, 0]))
    model = client_model_from_global(global_weights, assignments)
    assert [w.shape for w, _ in model] == [(3, 4), (2, 3), (3, 2)]
    np.testing.assert_array_equal(model[0][0], global_weights[0][0][[8, 2, 5]])
    np.testing.assert_array_equal(model[1][0], global_weights[1][0][[6, 0]][:, [8, 2, 5]])
    np.testing.assert_array_equal(model[2][0], global_weights[2][0][:, [6, 0]])
    # moved back into the global index space, the client's inputs land where they came from
    back = remap_input_units(model[1][0], assignments[0], 9)
    np.testing.assert_array_equal(back[:, [8, 2, 5]], model[1][0])
