"""Loss measures shared by the Monte Carlo engine, the closed forms and sizing.

Conventions: a pool loss L is a fraction of the pool's closing balance; a tranche [A, D] (fractions of the
pool) loses min(max(L - A, 0), D - A) / (D - A) of its notional (the standard tranche payoff, e.g. Hull &
White 2004); its probability of loss is P(L > A) and its loss given loss E[loss | loss > 0].
"""

from __future__ import annotations

import numpy as np


def tranche_loss_fraction(pool_loss: np.ndarray | float, attachment: float, detachment: float) -> np.ndarray:
    """Loss of the tranche [attachment, detachment] as a fraction of its notional, per pool-loss value.

    ``pool_loss`` is a fraction of the pool (array or scalar); returns values in [0, 1].
    """
    width = detachment - attachment
    if not width > 0:
        raise ValueError(f"tranche [{attachment}, {detachment}] has no positive width")
    return np.clip(np.asarray(pool_loss, dtype=float) - attachment, 0.0, width) / width


def loss_metrics(tranche_losses: np.ndarray, *, axis: int = -1) -> dict:
    """Expected loss, probability of loss and loss given loss from per-scenario loss fractions.

    ``tranche_losses``: fractions of notional, one per scenario (along ``axis``). A scenario counts as a
    loss when its loss is > 0. Loss given loss is the expected loss divided by the probability of loss
    (0 when no scenario loses). Returns floats (or arrays when ``tranche_losses`` has more axes).
    """
    losses = np.asarray(tranche_losses, dtype=float)
    expected = losses.mean(axis=axis)
    probability = (losses > 0).mean(axis=axis)
    given = np.divide(expected, probability, out=np.zeros_like(np.asarray(expected, float)),
                      where=np.asarray(probability) > 0)
    if np.ndim(expected) == 0:
        return {"expected_loss": float(expected), "probability_of_loss": float(probability),
                "loss_given_loss": float(given)}
    return {"expected_loss": expected, "probability_of_loss": probability, "loss_given_loss": given}


def static_tranche_metrics(pool_losses: np.ndarray, attachment: float, detachment: float) -> dict:
    """``loss_metrics`` of the tranche [attachment, detachment] applied to simulated pool losses."""
    return loss_metrics(tranche_loss_fraction(pool_losses, attachment, detachment))


def value_at_risk(pool_losses: np.ndarray, level: float) -> float:
    """Loss quantile at ``level``: the smallest sample x with empirical P(L <= x) >= level."""
    return float(np.quantile(np.asarray(pool_losses, float), level, method="inverted_cdf"))


def expected_shortfall(pool_losses: np.ndarray, level: float) -> float:
    """Mean of the worst (1 - level) share of scenarios, the last one counted fractionally
    (Acerbi & Tasche 2002, the coherent tail expectation of a sample)."""
    losses = np.sort(np.asarray(pool_losses, float))[::-1]
    tail = losses.size * (1.0 - level)
    whole = int(np.floor(tail + 1e-9))
    total = losses[:whole].sum()
    if whole < losses.size and tail > whole:
        total += (tail - whole) * losses[whole]
    return float(total / tail)


def pool_loss_statistics(pool_losses: np.ndarray, *, bins: int = 50) -> dict:
    """Headline statistics of simulated pool losses (fractions of the pool).

    Returns ``expected_loss``, ``std``, ``var_99``, ``var_999``, ``expected_shortfall_99``, ``max`` and
    ``loss_distribution`` = {"bin_edges": bins+1 edges from 0 to the largest loss, "counts": bins counts}.
    """
    losses = np.asarray(pool_losses, float)
    top = float(losses.max()) if losses.size else 0.0
    counts, edges = np.histogram(losses, bins=bins, range=(0.0, top if top > 0 else 1.0))
    return {
        "scenarios": int(losses.size), "expected_loss": float(losses.mean()), "std": float(losses.std()),
        "var_99": value_at_risk(losses, 0.99), "var_999": value_at_risk(losses, 0.999),
        "expected_shortfall_99": expected_shortfall(losses, 0.99), "max": top,
        "loss_distribution": {"bin_edges": edges.tolist(), "counts": counts.tolist()},
    }
