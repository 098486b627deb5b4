"""Monte Carlo copula engine against the closed forms (Vasicek, binomial, Gauss-Hermite, recursion).

Tolerances come from the binomial standard error of an empirical CDF, sqrt(F(1 - F)/n): the engine is
seeded, so each check is deterministic, and a correct engine passes with a margin of Z_TOL standard errors
(Z_TOL = 4.5 keeps the family-wise false-alarm rate of the few dozen points checked below 1e-3 for
other seeds too); a wrong threshold, correlation or loss weight moves the CDF by many standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from lending.core.abs.closed_form import (
    LossDistribution,
    conditional_default_probability,
    finite_homogeneous_default_distribution,
    one_factor_loss_distribution,
    vasicek_cdf,
    vasicek_quantile,
    vasicek_tranche_metrics,
)
from lending.core.abs.copula import simulate_pool_losses
from lending.core.abs.pool import Pool
from lending.core.abs.structure import CopulaSpec

from .builders import homogeneous_pool

Z_TOL = 4.5


def empirical_cdf(samples: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.sort(samples), x, side="right") / samples.size


def binomial_se(p: np.ndarray, n: int) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 0.0, 1.0)
    return np.sqrt(p * (1.0 - p) / n)


def finite_pool_cdf(x: float, n: int, pd: float, rho: float) -> float:
    """P(K/n <= x) for n names, by adaptive quadrature over the factor (independent of the engine)."""
    k = np.floor(x * n + 1e-9)
    integrand = lambda z: stats.binom.cdf(k, n, conditional_default_probability(pd, rho, z)) * stats.norm.pdf(z)
    return integrate.quad(integrand, -10, 10, limit=400, epsabs=1e-13)[0]


def test_vasicek_quantile_inverts_cdf():
    q = np.array([1e-4, 0.01, 0.3, 0.5, 0.9, 0.999])
    for pd, rho in ((0.01, 0.12), (0.05, 0.2), (0.2, 0.45)):
        assert np.allclose(vasicek_cdf(vasicek_quantile(q, pd, rho), pd, rho), q, rtol=1e-10, atol=1e-13)
    assert vasicek_cdf(0.0, 0.05, 0.2) == 0.0 and vasicek_cdf(1.0, 0.05, 0.2) == 1.0


def test_large_homogeneous_pool_matches_vasicek():
    n_names, pd, rho, scenarios = 2000, 0.05, 0.2, 20_000
    pool = homogeneous_pool(n_names, pd)
    losses = simulate_pool_losses(pool, CopulaSpec(rho=rho), horizon_months=12, scenarios=scenarios, seed=11)
    levels = np.array([0.5, 0.75, 0.9, 0.99, 0.999])
    quantiles = vasicek_quantile(levels, pd, rho)
    observed = empirical_cdf(losses, quantiles)
    # A pool of 2000 names is not infinitely granular: add the exact finite-pool gap to the MC error.
    granularity = np.array([abs(finite_pool_cdf(x, n_names, pd, rho) - q) for x, q in zip(quantiles, levels)])
    tolerance = Z_TOL * binomial_se(levels, scenarios) + granularity
    assert np.all(np.abs(observed - levels) <= tolerance), (observed, levels, tolerance)
    assert abs(losses.mean() - pd) <= Z_TOL * losses.std() / np.sqrt(scenarios)


def test_large_pool_rejects_a_wrong_correlation():
    """The same check fails when the engine runs with another correlation: the test has teeth."""
    pool = homogeneous_pool(2000, 0.05)
    losses = simulate_pool_losses(pool, CopulaSpec(rho=0.3), horizon_months=12, scenarios=20_000, seed=11)
    q = 0.99
    assert abs(empirical_cdf(losses, vasicek_quantile(q, 0.05, 0.2)) - q) > 10 * binomial_se(q, 20_000)


def test_zero_correlation_matches_binomial():
    n_names, pd, scenarios = 100, 0.05, 20_000
    losses = simulate_pool_losses(homogeneous_pool(n_names, pd), CopulaSpec(rho=0.0), horizon_months=12,
                                  scenarios=scenarios, seed=5)
    counts = np.rint(losses * n_names).astype(int)
    k = np.arange(16)
    exact = stats.binom.cdf(k, n_names, pd)
    observed = np.searchsorted(np.sort(counts), k, side="right") / scenarios
    assert np.all(np.abs(observed - exact) <= Z_TOL * binomial_se(exact, scenarios) + 1e-12)
    assert np.array_equal(finite_homogeneous_default_distribution(n_names, pd, 0.0), stats.binom.pmf(
        np.arange(n_names + 1), n_names, pd))


def test_finite_homogeneous_pool_matches_gauss_hermite():
    n_names, pd, rho, scenarios = 60, 0.1, 0.3, 20_000
    exact = np.cumsum(finite_homogeneous_default_distribution(n_names, pd, rho))
    losses = simulate_pool_losses(homogeneous_pool(n_names, pd, lgd=0.6), CopulaSpec(rho=rho),
                                  horizon_months=12, scenarios=scenarios, seed=21)
    counts = np.rint(losses * n_names / 0.6).astype(int)
    observed = np.searchsorted(np.sort(counts), np.arange(n_names + 1), side="right") / scenarios
    assert np.all(np.abs(observed - exact) <= Z_TOL * binomial_se(exact, scenarios) + 1e-9)
    # Gauss-Hermite against adaptive quadrature of the same mixture.
    for k in (0, 3, 10, 25):
        reference = finite_pool_cdf(k / n_names, n_names, pd, rho)
        assert abs(exact[k] - reference) < 1e-8


def test_recursion_equals_gauss_hermite_for_a_homogeneous_pool():
    n_names, pd, rho = 50, 0.08, 0.25
    pool = homogeneous_pool(n_names, pd, lgd=0.5)
    dist = one_factor_loss_distribution(pool, CopulaSpec(rho=rho), 12, loss_step=0.01, n_nodes=64)
    exact = finite_homogeneous_default_distribution(n_names, pd, rho, n_nodes=64)
    assert np.allclose(dist.loss, np.arange(n_names + 1) * 0.01)
    assert np.max(np.abs(dist.probability - exact)) < 1e-12


def lattice_pool() -> Pool:
    """Mixed PDs, LGDs, balances and two sectors, with every EAD·LGD a whole number of loss steps."""
    rng = np.random.default_rng(3)
    n = 40
    balance = rng.integers(1, 4, n).astype(float)        # 1..3
    lgd = rng.choice([0.5, 1.0], n)                       # EAD·LGD in halves
    return Pool.from_arrays(ids=[f"L{k}" for k in range(n)], balance=balance, lgd=lgd,
                            pd=rng.uniform(0.02, 0.3, n), maturity_months=np.full(n, 24),
                            sector=rng.choice(["a", "b"], n), amortisation=["bullet"] * n)


def test_mixed_pool_recursion_matches_monte_carlo():
    pool, copula, scenarios = lattice_pool(), CopulaSpec(rho=0.15, sector_rho={"b": 0.35}), 20_000
    step = 0.5 / pool.total_balance                      # losses are exact multiples of this step
    dist = one_factor_loss_distribution(pool, copula, 24, loss_step=step, n_nodes=160)
    losses = simulate_pool_losses(pool, copula, horizon_months=24, scenarios=scenarios, seed=8)
    assert np.isclose(dist.expected_loss, (pool.horizon_pd(24) * pool.balance * pool.lgd).sum() / pool.total_balance,
                      rtol=1e-12)
    grid = dist.loss[:: max(1, dist.loss.size // 40)] + step / 2
    exact = dist.cdf(grid)
    observed = empirical_cdf(losses, grid)
    assert np.all(np.abs(observed - exact) <= Z_TOL * binomial_se(exact, scenarios) + 1e-9)
    for attachment, detachment in ((0.0, 0.1), (0.1, 0.3), (0.3, 1.0)):
        mc = (np.clip(losses - attachment, 0, detachment - attachment) > 0).mean()
        cf = dist.tranche_metrics(attachment, detachment)["probability_of_loss"]
        assert abs(mc - cf) <= Z_TOL * binomial_se(cf, scenarios) + 1e-9


def test_recursion_splits_off_grid_losses_keeping_the_mean():
    pool = lattice_pool()
    dist = one_factor_loss_distribution(pool, CopulaSpec(rho=0.2), 24, loss_step=0.0137)
    exact_mean = (pool.horizon_pd(24) * pool.balance * pool.lgd).sum() / pool.total_balance
    assert dist.expected_loss == pytest.approx(exact_mean, rel=1e-12)
    assert dist.probability.sum() == pytest.approx(1.0, abs=1e-12)


def test_closed_form_rejects_sector_factor_models():
    with pytest.raises(ValueError, match="one-factor"):
        one_factor_loss_distribution(lattice_pool(), CopulaSpec(global_factor_weight=0.5), 24)


def test_vasicek_tranche_metrics_are_consistent():
    pd, rho, lgd = 0.04, 0.18, 0.45
    whole = vasicek_tranche_metrics(0.0, 1.0, pd=pd, rho=rho, lgd=lgd)
    assert whole["expected_loss"] == pytest.approx(pd * lgd, rel=1e-8)
    points = [0.0, 0.03, 0.07, 0.15, 1.0]
    slices = [vasicek_tranche_metrics(a, d, pd=pd, rho=rho, lgd=lgd) for a, d in zip(points[:-1], points[1:])]
    widths = np.diff(points)
    assert sum(w * s["expected_loss"] for w, s in zip(widths, slices)) == pytest.approx(pd * lgd, rel=1e-8)
    for (a, _), s in zip(zip(points[:-1], points[1:]), slices):
        assert s["probability_of_loss"] == pytest.approx(1.0 - float(vasicek_cdf(a / lgd, pd, rho)), abs=1e-12)
    # Against a large finite pool (4000 names, exact Gauss-Hermite mixture): close to the limit.
    n_names = 4000
    big = LossDistribution(loss=lgd * np.arange(n_names + 1) / n_names,
                           probability=finite_homogeneous_default_distribution(n_names, pd, rho))
    assert big.tranche_metrics(0.03, 0.07)["expected_loss"] == pytest.approx(slices[1]["expected_loss"], rel=0.02)


def test_loss_distribution_statistics():
    dist = LossDistribution(loss=np.array([0.0, 0.1, 0.2, 0.5]), probability=np.array([0.9, 0.05, 0.04, 0.01]))
    assert dist.quantile(0.9) == 0.0 and dist.quantile(0.95) == 0.1 and dist.quantile(0.99) == 0.2
    assert dist.expected_shortfall(0.99) == pytest.approx(0.5)
    assert dist.expected_shortfall(0.95) == pytest.approx((0.04 * 0.2 + 0.01 * 0.5) / 0.05)
    assert dist.tranche_metrics(0.1, 0.3)["probability_of_loss"] == pytest.approx(0.05)
