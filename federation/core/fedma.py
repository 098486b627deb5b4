"""Neuron matching for FedMA: BBP-MAP per layer, one-shot matching of whole networks, and the layer
remapping that the layer-wise FedMA driver (:class:`federation.core.strategies.FedMA`) needs.

Methods: BBP-MAP from PFNM (Yurochkin et al., "Bayesian Nonparametric Federated Learning of Neural
Networks", ICML 2019) as used by FedMA (Wang et al., "Federated Learning with Matched Averaging", ICLR
2020); see ``/work/shared/FEDMA.md`` for the model. A client's layer is a 2-D array whose row l is
neuron l: its incoming weights (a convolution filter flattened as ``(in_channels, kernel)``) then its
bias.

Hyper-parameters (all variances are per coordinate, isotropic):

- ``sigma`` (= 1/lambda): variance of a client's neuron around its global atom. Default: derived from
  the clients' weights, ``sigma = D * v / DEFAULT_SHARPNESS`` where ``v`` is the pooled per-coordinate
  variance of all rows and ``D`` their length. Matching prices a row at squared distance ``d2`` from a
  neuron held by m clients at about ``m/(m+1) * d2 / sigma`` score units, and squared distances add up
  over D coordinates, so the scale that separates "the same neuron" from "an unrelated neuron" grows
  with D: two unrelated neurons lie about ``2 D v`` apart, which this choice prices at
  ``DEFAULT_SHARPNESS`` to ``2 * DEFAULT_SHARPNESS`` units, well above the few units a new neuron
  costs, while neurons clearly closer than unrelated ones are matched. (In very low dimension, say
  D < 20, some unrelated neurons are close by chance; pass ``sigma`` explicitly there.)
- ``sigma0`` (= 1/lambda0): prior variance of the atoms. Default ``DEFAULT_PRIOR_RATIO * sigma``: a
  near-flat prior, so a global neuron is the mean of the rows matched to it (shrinkage toward ``mu0`` of
  about ``1/DEFAULT_PRIOR_RATIO``) instead of being pulled halfway to 0 as with sigma0 = sigma.
- ``gamma``: Indian-buffet mass; a new global neuron costs ``2 log k - 2 log(gamma / J)``. Default
  ``DEFAULT_GAMMA``.
- ``mu0``: prior mean (scalar or a length-D vector), default 0.
- ``popularity_cap``: ``c_i = min(m_i, cap)`` in the log-odds ``log(c_i / (J - c_i))`` of an existing
  neuron; default ``None`` (no cap, the Beta-Bernoulli posterior odds).

``REFERENCE_SETTINGS`` reproduces IBM/FedMA (sigma = sigma0 = 1, gamma = 7, c_i = min(m_i, 10));
``EXACT_RECOVERY_SETTINGS`` is the sharp-likelihood, flat-prior regime in which permuted copies are
recovered exactly and a global neuron is the plain mean of its rows.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from .specs import LayerWeights, NetworkWeights, layer_rows, rows_to_layer

DEFAULT_SHARPNESS = 12.0
DEFAULT_PRIOR_RATIO = 1e6
DEFAULT_GAMMA = 1.0
# The score product runs in float32 when lambda * max|w|^2 * J stays below this: its rounding error is
# then below ~0.1 score units, far inside the gaps that decide an assignment; above it, float64.
SINGLE_PRECISION_SCORE_LIMIT = 1e6


@dataclass(frozen=True)
class MatchingSettings:
    """BBP-MAP hyper-parameters; ``None`` means the documented default (see module docstring)."""

    sigma: float | None = None
    sigma0: float | None = None
    gamma: float | None = None
    mu0: float = 0.0
    popularity_cap: int | None = None
    iterations: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("sigma", "sigma0", "gamma"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number or None, got {value!r}")
        if self.iterations < 0:
            raise ValueError("iterations must be >= 0")
        if self.popularity_cap is not None and self.popularity_cap < 1:
            raise ValueError("popularity_cap must be >= 1 or None")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchingSettings:
        return cls(**data)

    def as_keywords(self) -> dict[str, Any]:
        return asdict(self)


REFERENCE_SETTINGS = MatchingSettings(sigma=1.0, sigma0=1.0, gamma=7.0, popularity_cap=10)
EXACT_RECOVERY_SETTINGS = MatchingSettings(sigma=1e-3, sigma0=1e8, gamma=1e-3)


@dataclass(frozen=True)
class LayerMatch:
    """Result of :func:`match_layer`.

    ``global_layer``: ``(L, D)`` posterior means of the global neurons; ``assignments[j][l]``: the
    global row that client j's row l was matched to (injective per client); ``popularity[i]``: how
    many clients hold global neuron i. The remaining fields record the resolved hyper-parameters and
    where the time went (seconds of score computation and of ``linear_sum_assignment``, and the shape of
    every assignment problem solved).
    """

    global_layer: np.ndarray
    assignments: list[np.ndarray]
    popularity: np.ndarray
    sigma: float
    sigma0: float
    gamma: float
    score_seconds: float
    solve_seconds: float
    problem_shapes: tuple[tuple[int, int], ...]


def default_sigma(layers: Sequence[np.ndarray], observed: Sequence[np.ndarray] | None = None) -> float:
    """``D * v / DEFAULT_SHARPNESS``: ``v`` the pooled per-coordinate variance of all clients' rows
    (only observed coordinates count), ``D`` the mean number of observed coordinates per row."""
    if observed is None:
        # Streaming per-coordinate sums: no copy of all clients' rows.
        count = sum(layer.shape[0] for layer in layers)
        mean = sum(layer.sum(axis=0) for layer in layers) / count
        mean_square = sum(np.einsum("ij,ij->j", layer, layer) for layer in layers) / count
        variance = float(np.mean(np.maximum(mean_square - mean**2, 0.0)))
        dimension = layers[0].shape[1]
    else:
        rows = np.concatenate([np.asarray(layer, np.float64) for layer in layers])
        mask = np.concatenate(
            [np.broadcast_to(o, layer.shape) for o, layer in zip(observed, layers)]
        ).astype(bool)
        counts = mask.sum(axis=0)
        means = np.where(counts > 0, (rows * mask).sum(axis=0) / np.maximum(counts, 1), 0.0)
        variance = ((rows - means) ** 2 * mask).sum() / max(mask.sum(), 1)
        dimension = mask.sum() / rows.shape[0]
    spread = dimension * variance / DEFAULT_SHARPNESS
    # Identical rows everywhere have zero spread; any small positive variance then recovers them.
    return float(spread) if spread > 1e-12 else 1e-12


class _MatchingState:
    """Global neurons as sufficient statistics: h_i (natural mean sum), observation counts, popularity.

    ``counts`` is per neuron (L,) when every client observes every coordinate, else per coordinate
    (L, D); the precision of neuron i at coordinate d is ``lambda0 + lambda * counts``.
    """

    def __init__(
        self, rows, observed, precision, prior_precision, prior_mean, gamma, popularity_cap, single_precision=None
    ):
        self.rows = rows
        self.observed = observed
        self.masked = observed is not None
        self.precision = precision
        self.prior_precision = prior_precision
        self.prior_natural = prior_precision * prior_mean  # (D,)
        self.prior_mean = prior_mean
        self.gamma = gamma
        self.popularity_cap = popularity_cap
        self.client_count = len(rows)
        dimension = rows[0].shape[1]
        self.natural = np.empty((0, dimension))
        self.counts = np.empty((0, dimension)) if self.masked else np.empty(0)
        self.popularity = np.empty(0, dtype=np.int64)
        self.assignments: list[np.ndarray | None] = [None] * self.client_count
        self.score_seconds = 0.0
        self.solve_seconds = 0.0
        self.problem_shapes: list[tuple[int, int]] = []
        # Per-client constants: the score of opening a new neuron (before its k-dependent cost),
        # and (without masks) the rows augmented with |w|^2 and 1 for the one-product score.
        self.fresh_scores = []
        self.augmented_rows = []
        for client, weights in enumerate(rows):
            keep = observed[client] if self.masked else slice(None)
            fresh = ((precision * weights[:, keep] + self.prior_natural[keep]) ** 2).sum(axis=1) / (
                precision + prior_precision
            ) - np.sum(self.prior_natural[keep] * prior_mean[keep])
            self.fresh_scores.append(fresh)
            if not self.masked:
                ones = np.ones((weights.shape[0], 1))
                self.augmented_rows.append(np.hstack([weights, (weights**2).sum(axis=1)[:, None], ones]))
        if single_precision is None:
            largest = max(float(np.max(np.sum(weights**2, axis=1))) for weights in rows)
            single_precision = precision * largest * len(rows) < SINGLE_PRECISION_SCORE_LIMIT
        self.single_precision = single_precision and not self.masked
        if self.single_precision:
            self.augmented_rows = [rows_.astype(np.float32) for rows_ in self.augmented_rows]

    def add(self, client: int, targets: np.ndarray) -> None:
        """Give client ``client``'s rows to the global neurons ``targets`` (new ones numbered next)."""
        new = int(targets.max(initial=-1)) + 1 - self.natural.shape[0]
        if new > 0:
            self.natural = np.vstack([self.natural, np.tile(self.prior_natural, (new, 1))])
            self.counts = np.concatenate([self.counts, np.zeros((new, *self.counts.shape[1:]))])
            self.popularity = np.concatenate([self.popularity, np.zeros(new, dtype=np.int64)])
        weights = self.rows[client]
        if self.masked:
            self.natural[targets] += self.precision * weights * self.observed[client]
            self.counts[targets] += self.observed[client]
        else:
            self.natural[targets] += self.precision * weights
            self.counts[targets] += 1
        self.popularity[targets] += 1
        self.assignments[client] = targets

    def remove(self, client: int) -> None:
        """Take client ``client``'s rows out; neurons left with no holder disappear."""
        targets = self.assignments[client]
        weights = self.rows[client]
        if self.masked:
            self.natural[targets] -= self.precision * weights * self.observed[client]
            self.counts[targets] -= self.observed[client]
        else:
            self.natural[targets] -= self.precision * weights
            self.counts[targets] -= 1
        self.popularity[targets] -= 1
        self.assignments[client] = None
        keep = self.popularity > 0
        if not keep.all():
            new_index = np.cumsum(keep) - 1
            self.natural = self.natural[keep]
            self.counts = self.counts[keep]
            self.popularity = self.popularity[keep]
            self.assignments = [None if a is None else new_index[a] for a in self.assignments]

    def costs(self, client: int) -> np.ndarray:
        """``(L_j, L + L_j)`` negated BBP-MAP scores of client ``client``'s rows against the current
        global neurons (first L columns) and against opening the k-th new neuron (last L_j columns).

        Without observation masks the score against neuron i,
        ``lam^2 |w|^2 A_i + 2 lam A_i w.h_i + |h_i|^2 (A_i - 1/P_i) + log-odds_i`` with
        ``A_i = 1/(lam + P_i)``, is linear in ``(w, |w|^2, 1)``: the whole block is one matrix product.
        """
        lam, lam0 = self.precision, self.prior_precision
        existing_count = self.natural.shape[0]
        row_count = self.rows[client].shape[0]
        support = self.popularity.astype(np.float64)
        if self.popularity_cap is not None:
            support = np.minimum(support, self.popularity_cap)
        log_odds = np.log(support / (self.client_count - support))
        costs = np.empty((row_count, existing_count + row_count))
        if self.masked:
            keep = self.observed[client]
            weights, natural = self.rows[client][:, keep], self.natural[:, keep]
            posterior = lam0 + lam * self.counts[:, keep]
            inverse = 1.0 / (lam + posterior)
            costs[:, :existing_count] = -(
                (lam * lam) * (weights * weights) @ inverse.T
                + (2 * lam) * weights @ (natural * inverse).T
                + (np.sum(natural * natural * (inverse - 1.0 / posterior), axis=1) + log_odds)
            )
        else:
            posterior = lam0 + lam * self.counts
            inverse = 1.0 / (lam + posterior)
            augmented = self.augmented_rows[client]
            coefficients = np.empty((existing_count, self.natural.shape[1] + 2), dtype=augmented.dtype)
            np.multiply(self.natural, (-2 * lam * inverse)[:, None], out=coefficients[:, :-2], casting="same_kind")
            coefficients[:, -2] = -(lam * lam) * inverse
            squared_norms = np.einsum("ij,ij->i", self.natural, self.natural)
            coefficients[:, -1] = -(squared_norms * (inverse - 1.0 / posterior) + log_odds)
            if self.single_precision:
                costs[:, :existing_count] = augmented @ coefficients.T
            else:
                np.matmul(augmented, coefficients.T, out=costs[:, :existing_count])
        opening = 2 * np.log(np.arange(1, row_count + 1)) - 2 * np.log(self.gamma / self.client_count)
        np.subtract(opening[None, :], self.fresh_scores[client][:, None], out=costs[:, existing_count:])
        return costs

    def assign(self, client: int) -> None:
        started = time.perf_counter()
        costs = self.costs(client)
        solved = time.perf_counter()
        rows, columns = linear_sum_assignment(costs)
        self.solve_seconds += time.perf_counter() - solved
        self.score_seconds += solved - started
        self.problem_shapes.append(costs.shape)
        existing = self.natural.shape[0]
        targets = np.empty(rows.size, dtype=np.int64)
        targets[rows] = columns
        opened = targets >= existing
        # New neurons are interchangeable columns: number them in the client's row order.
        targets[opened] = existing + np.arange(int(opened.sum()))
        self.add(client, targets)

    def estimates(self) -> np.ndarray:
        precision = self.prior_precision + self.precision * self.counts
        if not self.masked:
            precision = precision[:, None]
        return self.natural / precision


def _check_layers(layers: Sequence[np.ndarray]) -> list[np.ndarray]:
    if len(layers) == 0:
        raise ValueError("match_layer needs at least one client layer")
    rows = [np.asarray(layer, dtype=np.float64) for layer in layers]
    dimension = rows[0].shape[1] if rows[0].ndim == 2 else None
    for index, layer in enumerate(rows):
        if layer.ndim != 2 or layer.shape[0] == 0 or layer.shape[1] != dimension:
            raise ValueError(f"client {index}: expected a non-empty (L_j, {dimension}) array, got {layer.shape}")
        if not np.all(np.isfinite(layer)):
            raise ValueError(f"client {index}: non-finite weights")
    return rows


def match_layer(
    layers: Sequence[np.ndarray],
    *,
    sigma: float | None = None,
    sigma0: float | None = None,
    gamma: float | None = None,
    iterations: int = 5,
    seed: int = 0,
    mu0: float | np.ndarray = 0.0,
    popularity_cap: int | None = None,
    observed: Sequence[np.ndarray] | None = None,
) -> LayerMatch:
    """BBP-MAP matching of one layer across clients (PFNM, ICML 2019, Alg. 1; FedMA, ICLR 2020).

    ``layers[j]``: client j's ``(L_j, D)`` rows (incoming weights then bias). ``observed[j]``
    (optional, boolean ``(D,)``): which coordinates client j actually holds; unobserved ones carry no
    evidence (used when a client's input side covers only part of the global previous layer).
    Hyper-parameters ``None`` take the defaults described in the module docstring.

    The largest client seeds the global layer, the others are matched once in decreasing size, then
    ``iterations`` passes remove and re-match every client in a random order drawn from ``seed``.
    Each client's rows are assigned by ``linear_sum_assignment`` maximising the total score.
    """
    # Validates the scalar hyper-parameters; mu0 (scalar or vector) is broadcast below.
    settings = MatchingSettings(
        sigma=sigma, sigma0=sigma0, gamma=gamma, popularity_cap=popularity_cap, iterations=iterations, seed=seed
    )
    rows = _check_layers(layers)
    dimension = rows[0].shape[1]
    masks = None
    if observed is not None:
        if len(observed) != len(rows):
            raise ValueError("observed needs one mask per client")
        masks = [np.broadcast_to(np.asarray(o, dtype=bool), (dimension,)).copy() for o in observed]
        if all(mask.all() for mask in masks):
            masks = None
    resolved_sigma = settings.sigma if settings.sigma is not None else default_sigma(rows, masks)
    resolved_sigma0 = settings.sigma0 if settings.sigma0 is not None else DEFAULT_PRIOR_RATIO * resolved_sigma
    resolved_gamma = settings.gamma if settings.gamma is not None else DEFAULT_GAMMA
    prior_mean = np.broadcast_to(np.asarray(mu0, dtype=np.float64), (dimension,)).copy()
    state = _MatchingState(
        rows, masks, 1.0 / resolved_sigma, 1.0 / resolved_sigma0, prior_mean, resolved_gamma,
        settings.popularity_cap,
    )
    client_count = len(rows)
    by_size = sorted(range(client_count), key=lambda j: (-rows[j].shape[0], j))
    state.add(by_size[0], np.arange(rows[by_size[0]].shape[0]))
    for client in by_size[1:]:
        state.assign(client)
    rng = np.random.default_rng(settings.seed)
    for _ in range(settings.iterations):
        for client in rng.permutation(client_count):
            state.remove(int(client))
            state.assign(int(client))
    return LayerMatch(
        global_layer=state.estimates(),
        assignments=[np.asarray(a, dtype=np.int64) for a in state.assignments],
        popularity=state.popularity.copy(),
        sigma=resolved_sigma,
        sigma0=resolved_sigma0,
        gamma=resolved_gamma,
        score_seconds=state.score_seconds,
        solve_seconds=state.solve_seconds,
        problem_shapes=tuple(state.problem_shapes),
    )


# --- layer remapping between client and global index spaces ------------------------------------


def _input_blocks(weight: np.ndarray, input_units: int) -> np.ndarray:
    """View ``weight`` as ``(out, input_units, block)``: the input columns fed by each input unit."""
    weight = np.asarray(weight, dtype=np.float64)
    flat = weight.reshape(weight.shape[0], -1)
    if flat.shape[1] % input_units:
        raise ValueError(f"{flat.shape[1]} input columns do not split into {input_units} units")
    return flat.reshape(weight.shape[0], input_units, -1)


def _restore_layout(blocks: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Conv weights keep ``(out, units, kernel)``; dense weights are ``(out, units * block)``."""
    if np.ndim(like) == 3:
        return blocks
    return blocks.reshape(blocks.shape[0], -1)


def remap_input_units(weight: np.ndarray, assignment: np.ndarray, global_units: int) -> np.ndarray:
    """Move a layer's input side from a client's units to the global units (FEDMA.md step 3).

    The block of inputs fed by local unit l moves to global unit ``assignment[l]``; blocks of global
    units the client does not hold are zero. Works for dense (block 1), conv -> conv (block = kernel)
    and conv -> dense (block = feature length) weights.
    """
    assignment = np.asarray(assignment, dtype=np.int64)
    blocks = _input_blocks(weight, assignment.size)
    remapped = np.zeros((blocks.shape[0], global_units, blocks.shape[2]))
    remapped[:, assignment, :] = blocks
    return _restore_layout(remapped, weight)


def restrict_input_units(weight: np.ndarray, assignment: np.ndarray, global_units: int) -> np.ndarray:
    """Inverse of :func:`remap_input_units`: keep the input blocks of the global units the client
    holds, in the client's own unit order."""
    blocks = _input_blocks(weight, global_units)
    return _restore_layout(blocks[:, np.asarray(assignment, dtype=np.int64), :], weight)


def observed_input_mask(assignment: np.ndarray, global_units: int, block: int) -> np.ndarray:
    """Boolean mask over a remapped row (inputs then bias): True where the client has evidence."""
    held = np.zeros(global_units, dtype=bool)
    held[np.asarray(assignment, dtype=np.int64)] = True
    return np.concatenate([np.repeat(held, block), [True]])


def client_model_from_global(
    global_weights: NetworkWeights, assignments: Sequence[np.ndarray]
) -> NetworkWeights:
    """A client's own-size model from the global one (FedMA "with communication"): its neuron l of
    hidden layer n takes global row ``assignments[n][l]``, input columns restricted to the global
    neurons it holds in layer n-1; the output layer keeps every class."""
    if len(assignments) != len(global_weights) - 1:
        raise ValueError("need one assignment per hidden layer")
    model: NetworkWeights = []
    previous: np.ndarray | None = None
    for index, (weight, bias) in enumerate(global_weights):
        weight, bias = np.asarray(weight, np.float64), np.asarray(bias, np.float64)
        if previous is not None:
            weight = restrict_input_units(weight, previous, global_weights[index - 1][0].shape[0])
        if index < len(assignments):
            rows = np.asarray(assignments[index], dtype=np.int64)
            weight, bias = weight[rows], bias[rows]
            previous = rows
        model.append((weight.copy(), bias.copy()))
    return model


def combine_output_layers(
    layers: Sequence[LayerWeights],
    class_counts: Sequence[np.ndarray] | None = None,
    observed_inputs: Sequence[np.ndarray] | None = None,
) -> LayerWeights:
    """FedMA's output layer: class k's weights are the average of the clients' class-k weights
    weighted by each client's share of class-k samples (FedMA, ICLR 2020, Sec. 2.3).

    ``layers[j]``: client j's output ``(weight (K, in), bias (K,))`` with its input side already in
    the global index space. ``class_counts[j]``: its ``(K,)`` sample counts (``None``: equal weights).
    ``observed_inputs[j]``: boolean ``(in,)`` columns the client holds (``None``: all); a column is
    averaged over its holders only. A class no client has falls back to the plain mean; a column no
    class-k holder observes falls back to the plain mean of its observers; nothing divides by zero.
    """
    weights = np.stack([np.asarray(w, np.float64).reshape(np.shape(w)[0], -1) for w, _ in layers])
    biases = np.stack([np.asarray(b, np.float64) for _, b in layers])
    client_count, class_count, input_count = weights.shape
    if class_counts is None:
        counts = np.ones((client_count, class_count))
    else:
        counts = np.asarray(class_counts, dtype=np.float64).reshape(client_count, class_count)
    totals = counts.sum(axis=0)
    shares = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 1.0 / client_count)
    if observed_inputs is None:
        observed = np.ones((client_count, input_count))
    else:
        observed = np.stack([np.asarray(o, dtype=np.float64) for o in observed_inputs])
    share_weight = shares[:, :, None] * observed[:, None, :]  # (J, K, in)
    share_total = share_weight.sum(axis=0)
    plain_total = observed.sum(axis=0)[None, :]
    share_mean = (share_weight * weights).sum(axis=0) / np.where(share_total > 0, share_total, 1.0)
    plain_mean = (observed[:, None, :] * weights).sum(axis=0) / np.where(plain_total > 0, plain_total, 1.0)
    combined = np.where(share_total > 0, share_mean, plain_mean)
    bias = (shares * biases).sum(axis=0)
    return combined.reshape(np.shape(layers[0][0])), bias


@dataclass(frozen=True)
class NetworkMatch:
    """One-shot matching of whole networks: the global network and, per hidden layer, each client's
    assignment (``assignments[n][j]``)."""

    weights: NetworkWeights
    assignments: list[list[np.ndarray]]


def match_network_layers(
    networks: Sequence[NetworkWeights],
    *,
    class_counts: Sequence[np.ndarray] | None = None,
    settings: MatchingSettings = MatchingSettings(),
) -> NetworkMatch:
    """One-shot matching of every hidden layer without retraining (PFNM's multilayer matching), then
    :func:`combine_output_layers` for the output layer. See :func:`match_networks`."""
    if not networks:
        raise ValueError("no networks to match")
    depth = len(networks[0])
    if depth < 1 or any(len(network) != depth for network in networks):
        raise ValueError("every client network needs the same number of layers")
    global_weights: NetworkWeights = []
    layer_assignments: list[list[np.ndarray]] = []
    previous: list[np.ndarray] | None = None
    for index in range(depth):
        remapped, masks = [], []
        for client, network in enumerate(networks):
            weight, bias = network[index]
            if previous is not None:
                global_units = global_weights[-1][0].shape[0]
                block = _input_blocks(weight, previous[client].size).shape[2]
                weight = remap_input_units(weight, previous[client], global_units)
                masks.append(observed_input_mask(previous[client], global_units, block))
            remapped.append((np.asarray(weight, np.float64), np.asarray(bias, np.float64)))
        tail_shape = remapped[0][0].shape[1:]
        if index == depth - 1:
            global_weights.append(
                combine_output_layers(remapped, class_counts, [m[:-1] for m in masks] if masks else None)
            )
            break
        match = match_layer(
            [layer_rows(w, b) for w, b in remapped], observed=masks or None, **settings.as_keywords()
        )
        global_weights.append(rows_to_layer(match.global_layer, tail_shape))
        layer_assignments.append(match.assignments)
        previous = match.assignments
    return NetworkMatch(weights=global_weights, assignments=layer_assignments)


def match_networks(
    networks: Sequence[NetworkWeights],
    *,
    class_counts: Sequence[np.ndarray] | None = None,
    sigma: float | None = None,
    sigma0: float | None = None,
    gamma: float | None = None,
    iterations: int = 5,
    seed: int = 0,
    mu0: float = 0.0,
    popularity_cap: int | None = None,
) -> NetworkWeights:
    """One-shot matched average of whole networks (no retraining between layers), for evaluation.

    ``networks[j]``: client j's ``[(weight, bias), ...]`` in PyTorch layout (dense ``(out, in)``;
    convolutions ``(out, in, kernel)`` also work), hidden widths may differ between clients.
    ``class_counts[j]``: client j's per-class sample counts for the class-share-weighted output layer
    (``None``: plain mean). Hidden layer n+1's input side is moved into the global index space of
    layer n before it is matched; coordinates of global neurons a client does not hold carry no
    evidence. Returns the global network as the same kind of list.
    """
    settings = MatchingSettings(
        sigma=sigma, sigma0=sigma0, gamma=gamma, mu0=mu0, popularity_cap=popularity_cap,
        iterations=iterations, seed=seed,
    )
    return match_network_layers(networks, class_counts=class_counts, settings=settings).weights
