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

import math
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
# Cost matrices kept between a client's successive matchings (see _MatchingState.costs) while their
# total size stays below this; the matrices of further clients are recomputed in full each time.
COST_CACHE_LIMIT_BYTES = 512 * 2**20


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

    Bookkeeping that keeps refinement passes cheap without changing what is computed:

    - the L live neurons are the first L rows of arrays with spare capacity: opening neurons does not
      copy the layer, and a neuron whose popularity falls to zero is squeezed out in place, so global
      indices are those of a compacted list;
    - each neuron records the row each client gave it (``holders``, -1 for none). Client j's cost
      column for neuron i is a function of what the *other* clients gave neuron i only, so
      :meth:`costs` reuses the columns of neurons whose holders are unchanged since client j's
      previous matching and recomputes the rest (after the first passes, few rows move);
    - taking a client's rows out of h is deferred until it is matched again, and then only rows that
      change neuron are moved; reading :attr:`natural` applies a pending removal.
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
        self._scratch_buffers: dict[tuple[str, Any], np.ndarray] = {}
        self.size = 0  # L, the number of live global neurons
        self._max_rows = max(r.shape[0] for r in rows)
        capacity = min(sum(r.shape[0] for r in rows), 2 * self._max_rows)
        self._natural = np.empty((capacity, dimension))
        self._counts = np.empty((capacity, dimension)) if self.masked else np.empty(capacity)
        self._popularity = np.empty(capacity, dtype=np.int64)
        self._holders = np.empty((capacity, self.client_count), dtype=np.int32)
        # (client, targets): a removed client whose rows are still inside h (target -1: neuron gone).
        self._pending: tuple[int, np.ndarray] | None = None
        self.assignments: list[np.ndarray | None] = [None] * self.client_count
        self.score_seconds = 0.0
        self.solve_seconds = 0.0
        self.problem_shapes: list[tuple[int, int]] = []
        # Per-client constants: the score of opening a new neuron (before its k-dependent cost),
        # and (without masks) the rows augmented with |w|^2 and 1 for the one-product score.
        self.fresh_scores = []
        squared_norms = []
        for client, weights in enumerate(rows):
            work = self._scratch("scaled", weights.shape)
            squared_norms.append(np.square(weights, out=work).sum(axis=1))
            if self.masked:
                keep = observed[client]
                fresh = ((precision * weights[:, keep] + self.prior_natural[keep]) ** 2).sum(axis=1) / (
                    precision + prior_precision
                ) - np.sum(self.prior_natural[keep] * prior_mean[keep])
            else:
                shifted = np.multiply(weights, precision, out=work)
                shifted += self.prior_natural
                fresh = np.square(shifted, out=shifted).sum(axis=1) / (precision + prior_precision) - np.sum(
                    self.prior_natural * prior_mean
                )
            self.fresh_scores.append(fresh)
        if single_precision is None:
            largest = max(float(np.max(norms)) for norms in squared_norms)
            single_precision = precision * largest * len(rows) < SINGLE_PRECISION_SCORE_LIMIT
        self.single_precision = single_precision and not self.masked
        self.augmented_rows = []
        if not self.masked:
            for weights, norms in zip(rows, squared_norms):
                augmented = np.empty(
                    (weights.shape[0], dimension + 2), dtype=np.float32 if self.single_precision else np.float64
                )
                augmented[:, :-2] = weights
                augmented[:, -2] = norms
                augmented[:, -1] = 1.0
                self.augmented_rows.append(augmented)
        # Per client: the holders of the neurons of its last cost matrix, and that matrix; kept while
        # the total size stays below COST_CACHE_LIMIT_BYTES.
        self._costs_cache: list[tuple[np.ndarray, np.ndarray] | None] = [None] * self.client_count
        self._cache_bytes = 0
        self._spare_cost_buffers: list[np.ndarray] = []

    def _scratch(self, name: str, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
        """A reusable work array (contents undefined): large temporaries allocated and freed on every
        matching cost page faults that are a sizeable part of a small layer's matching time."""
        needed = math.prod(shape)
        buffer = self._scratch_buffers.get((name, dtype))
        if buffer is None or buffer.size < needed:
            buffer = np.empty(max(needed, 2 * (0 if buffer is None else buffer.size)), dtype=dtype)
            self._scratch_buffers[(name, dtype)] = buffer
        return buffer[:needed].reshape(shape)

    def _new_costs(self, shape: tuple[int, int]) -> np.ndarray:
        """An empty C-ordered cost matrix, in the memory of a dropped one when one is big enough."""
        needed = shape[0] * shape[1]
        for index, flat in enumerate(self._spare_cost_buffers):
            if flat.size >= needed:
                return self._spare_cost_buffers.pop(index)[:needed].reshape(shape)
        return np.empty(needed + needed // 8)[:needed].reshape(shape)

    def _drop_costs(self, costs: np.ndarray) -> None:
        self._spare_cost_buffers.append(costs.base if costs.base is not None else costs.reshape(-1))
        if len(self._spare_cost_buffers) > 2:
            sizes = [flat.size for flat in self._spare_cost_buffers]
            del self._spare_cost_buffers[sizes.index(min(sizes))]

    # Live views (tests and estimates read these).
    @property
    def natural(self) -> np.ndarray:
        self._apply_pending_removal()
        return self._natural[: self.size]

    @property
    def counts(self) -> np.ndarray:
        return self._counts[: self.size]

    @property
    def popularity(self) -> np.ndarray:
        return self._popularity[: self.size]

    def _scaled_rows(self, client: int, rows) -> np.ndarray:
        """lambda * w (observed coordinates only) for client ``client``'s ``rows`` (an index array or
        ``slice(None)``): its share of h. Returned in a scratch array: use it before the next call."""
        weights = self.rows[client]
        if isinstance(rows, slice):
            scaled = np.multiply(weights, self.precision, out=self._scratch("scaled", weights.shape))
        else:
            scaled = self._scratch("scaled", (len(rows), weights.shape[1]))
            np.take(weights, rows, axis=0, out=scaled, mode="clip")
            scaled *= self.precision
        if self.masked:
            scaled *= self.observed[client]
        return scaled

    def _apply_pending_removal(self) -> None:
        if self._pending is None:
            return
        client, targets = self._pending
        self._pending = None
        rows = np.flatnonzero(targets >= 0)
        self._natural[targets[rows]] -= self._scaled_rows(client, rows)

    def _grow(self, needed: int) -> None:
        capacity = max(needed, 2 * self._natural.shape[0])
        for name in ("_natural", "_counts", "_popularity", "_holders"):
            old = getattr(self, name)
            grown = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
            grown[: self.size] = old[: self.size]
            setattr(self, name, grown)

    def add(self, client: int, targets: np.ndarray) -> None:
        """Give client ``client``'s rows to the global neurons ``targets`` (new ones numbered next)."""
        if self._pending is not None and self._pending[0] != client:
            self._apply_pending_removal()
        size = self.size
        new = int(targets.max(initial=-1)) + 1 - size
        if new > 0:
            if size + new > self._natural.shape[0]:
                self._grow(size + new)
            self._natural[size : size + new] = self.prior_natural
            self._counts[size : size + new] = 0
            self._popularity[size : size + new] = 0
            self._holders[size : size + new] = -1
            self.size = size + new
        if self._pending is None:
            self._natural[targets] += self._scaled_rows(client, slice(None))
        else:
            # Rows matched again to the neuron they came from stay inside h untouched.
            previous = self._pending[1]
            self._pending = None
            moved = np.flatnonzero(previous != targets)
            if moved.size:
                scaled = self._scaled_rows(client, moved)
                left = previous[moved]
                still = left >= 0
                self._natural[left[still]] -= scaled[still]
                self._natural[targets[moved]] += scaled
        self._counts[targets] += self.observed[client] if self.masked else 1
        self._popularity[targets] += 1
        self._holders[targets, client] = np.arange(targets.size, dtype=np.int32)
        self.assignments[client] = targets

    def remove(self, client: int) -> None:
        """Take client ``client``'s rows out; neurons left with no holder disappear."""
        self._apply_pending_removal()
        targets = self.assignments[client]
        size = self.size
        self._pending = (client, targets)
        self._counts[targets] -= self.observed[client] if self.masked else 1
        self._popularity[targets] -= 1
        self._holders[targets, client] = -1
        self.assignments[client] = None
        keep = self._popularity[:size] > 0
        if not keep.all():
            # Squeeze the dead neurons out in place; the survivors keep their order.
            survivors = np.flatnonzero(keep)
            kept = survivors.size
            first = int(np.argmin(keep))  # rows before the first dead neuron stay where they are
            moving = survivors[first:]
            for array in (self._natural, self._counts, self._popularity, self._holders):
                staged = self._scratch("natural", (moving.size, *array.shape[1:]), array.dtype)
                np.take(array, moving, axis=0, out=staged, mode="clip")
                array[first:kept] = staged
            self.size = kept
            new_index = np.cumsum(keep) - 1
            self.assignments = [None if a is None else new_index[a] for a in self.assignments]
            self._pending = (client, np.where(keep[targets], new_index[targets], -1))

    def _removed_natural(self, client: int, neurons: np.ndarray) -> np.ndarray:
        """Rows ``neurons`` of h with client ``client``'s rows taken out (its removal may be pending),
        in a scratch array."""
        natural = self._scratch("natural", (neurons.size, self._natural.shape[1]))
        np.take(self._natural, neurons, axis=0, out=natural, mode="clip")
        if self._pending is not None:
            previous = self._pending[1]
            held_row = np.full(self.size, -1)
            alive = np.flatnonzero(previous >= 0)
            held_row[previous[alive]] = alive
            rows = held_row[neurons]
            held = np.flatnonzero(rows >= 0)
            removed = self._scratch("removed", (held.size, natural.shape[1]))
            np.take(self._natural, neurons[held], axis=0, out=removed, mode="clip")
            removed -= self._scaled_rows(client, rows[held])
            natural[held] = removed
        return natural

    def costs(self, client: int) -> np.ndarray:
        """``(L_j, L + L_j)`` negated BBP-MAP scores of client ``client``'s rows against the current
        global neurons (first L columns) and against opening the k-th new neuron (last L_j columns).

        Column i depends only on what the other clients gave neuron i, so the columns of neurons whose
        holders are the same as at this client's previous matching (the same row from every other
        client) are taken from that matching; the others are computed by :meth:`_cost_columns`. A
        reused column equals a recomputed one up to rounding. The returned array may be reused and
        overwritten by the client's next call.
        """
        if self._pending is not None and self._pending[0] != client:
            self._apply_pending_removal()
        size = self.size
        row_count = self.rows[client].shape[0]
        holders = self._holders[:size]
        cached = self._costs_cache[client]
        if cached is None:
            costs = self._new_costs((row_count, size + row_count))
            opening = 2 * np.log(np.arange(1, row_count + 1)) - 2 * np.log(self.gamma / self.client_count)
            np.subtract(opening[None, :], self.fresh_scores[client][:, None], out=costs[:, size:])
            stale = np.arange(size)
        else:
            old_holders, old_costs = cached
            self._costs_cache[client] = None
            self._cache_bytes -= old_costs.nbytes
            old_size = old_holders.shape[0]
            fresh = (holders == old_holders).all(axis=1) if old_size == size else None
            if fresh is not None and 8 * np.count_nonzero(~fresh) <= size:
                costs = old_costs  # the same neurons in the same places; a few changed holders
            else:
                # Neurons died or were opened since, so columns moved: find each neuron's old column by
                # its holders (the opening columns stay last) and copy the columns that are still valid.
                source, fresh = _matching_columns(holders, old_holders, self._max_rows)
                costs = self._new_costs((row_count, size + row_count))
                costs[:, size:] = old_costs[:, old_size:]
                _copy_columns(old_costs, source, fresh, costs)
                self._drop_costs(old_costs)
            stale = np.flatnonzero(~fresh)
        if stale.size == size:
            self._cost_columns(client, stale, out=costs[:, :size])
        elif stale.size:
            costs[:, stale] = self._cost_columns(client, stale)
        if self._cache_bytes + costs.nbytes <= COST_CACHE_LIMIT_BYTES:
            self._costs_cache[client] = (holders.copy(), costs)
            self._cache_bytes += costs.nbytes
        return costs

    def _cost_columns(self, client: int, neurons: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Negated scores of client ``client``'s rows against the global neurons ``neurons``
        (``(L_j, len(neurons))``), the client's own rows taken out of h.

        Without observation masks the score against neuron i,
        ``lam^2 |w|^2 A_i + 2 lam A_i w.h_i + |h_i|^2 (A_i - 1/P_i) + log-odds_i`` with
        ``A_i = 1/(lam + P_i)``, is linear in ``(w, |w|^2, 1)``: the block is one matrix product.
        """
        lam, lam0 = self.precision, self.prior_precision
        natural = self._removed_natural(client, neurons)
        support = self._popularity[neurons].astype(np.float64)
        if self.popularity_cap is not None:
            support = np.minimum(support, self.popularity_cap)
        log_odds = np.log(support / (self.client_count - support))
        row_count = self.rows[client].shape[0]
        if out is None:
            out = np.empty((row_count, neurons.size))
        if self.masked:
            keep = self.observed[client]
            weights, natural = self.rows[client][:, keep], natural[:, keep]
            posterior = lam0 + lam * self._counts[neurons][:, keep]
            inverse = 1.0 / (lam + posterior)
            out[:] = -(
                (lam * lam) * (weights * weights) @ inverse.T
                + (2 * lam) * weights @ (natural * inverse).T
                + (np.sum(natural * natural * (inverse - 1.0 / posterior), axis=1) + log_odds)
            )
            return out
        posterior = lam0 + lam * self._counts[neurons]
        inverse = 1.0 / (lam + posterior)
        augmented = self.augmented_rows[client]
        coefficients = self._scratch("coefficients", (neurons.size, natural.shape[1] + 2), augmented.dtype)
        np.multiply(natural, (-2 * lam * inverse)[:, None], out=coefficients[:, :-2], casting="same_kind")
        coefficients[:, -2] = -(lam * lam) * inverse
        squared_norms = np.einsum("ij,ij->i", natural, natural)
        coefficients[:, -1] = -(squared_norms * (inverse - 1.0 / posterior) + log_odds)
        if self.single_precision:
            products = self._scratch("products", (row_count, neurons.size), augmented.dtype)
            out[...] = np.matmul(augmented, coefficients.T, out=products)
        else:
            np.matmul(augmented, coefficients.T, out=out)
        return out

    def assign(self, client: int) -> None:
        started = time.perf_counter()
        costs = self.costs(client)
        solved = time.perf_counter()
        rows, columns = linear_sum_assignment(costs)
        self.solve_seconds += time.perf_counter() - solved
        self.score_seconds += solved - started
        self.problem_shapes.append(costs.shape)
        existing = self.size
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


def _matching_columns(holders: np.ndarray, old_holders: np.ndarray, max_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """For each neuron of ``holders`` (``(L, J)``: the row each client gave it, -1 for none), the row
    of ``old_holders`` with the same holders (``source``) and whether there is one (``fresh``).

    A client's row belongs to one neuron, so a neuron is found through any one of its holders."""
    size = holders.shape[0]
    held = holders >= 0
    client = np.argmax(held, axis=1)  # a client holding each neuron
    row = holders[np.arange(size), client]
    old_neuron = np.full((holders.shape[1], max_rows), -1)
    old_columns, old_clients = np.nonzero(old_holders >= 0)
    old_neuron[old_clients, old_holders[old_columns, old_clients]] = old_columns
    source = np.where(row >= 0, old_neuron[client, np.maximum(row, 0)], -1)
    fresh = source >= 0
    fresh[fresh] = (old_holders[source[fresh]] == holders[fresh]).all(axis=1)
    return source, fresh


def _copy_columns(source: np.ndarray, source_columns: np.ndarray, wanted: np.ndarray, target: np.ndarray) -> None:
    """``target[:, i] = source[:, source_columns[i]]`` for the columns i where ``wanted``, as slice
    copies of runs that are consecutive in both (a few runs when some neurons died or were opened);
    the target stays C-ordered, which ``linear_sum_assignment`` needs to run at full speed."""
    columns = np.flatnonzero(wanted)
    if not columns.size:
        return
    sources = source_columns[columns]
    breaks = np.flatnonzero((np.diff(columns) != 1) | (np.diff(sources) != 1)) + 1
    if breaks.size > 64:
        target[:, columns] = source[:, sources]
        return
    for first, last in zip(np.concatenate([[0], breaks]), np.concatenate([breaks, [columns.size]])):
        target[:, columns[first] : columns[last - 1] + 1] = source[:, sources[first] : sources[last - 1] + 1]


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
