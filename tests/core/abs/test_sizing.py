"""Sizing returns the boundary it claims: re-simulating with the same seed confirms it."""

from __future__ import annotations

import numpy as np
import pytest

from lending.core.abs.closed_form import one_factor_loss_distribution
from lending.core.abs.copula import simulate_pool_losses
from lending.core.abs.metrics import static_tranche_metrics
from lending.core.abs.ratings import ILLUSTRATIVE_LABEL, band_target
from lending.core.abs.sizing import size_tranches
from lending.core.abs.structure import CopulaSpec

from .builders import mixed_pool

COPULA = CopulaSpec(rho=0.2, sector_rho={"forging": 0.3})
SCENARIOS, SEED, HORIZON = 20_000, 31, 60


def resimulated_losses():
    return simulate_pool_losses(mixed_pool(), COPULA, horizon_months=HORIZON, scenarios=SCENARIOS, seed=SEED)


def check_boundaries(sizing, losses, metric):
    for attachment, detachment, target, achieved in zip(sizing.attachments, sizing.detachments, sizing.targets,
                                                        sizing.achieved):
        assert 0.0 < attachment < detachment
        at = static_tranche_metrics(losses, attachment, detachment)[metric]
        assert at == achieved and at <= target
        # Any lower attachment (a larger tranche) breaks the target.
        just_below = np.nextafter(attachment, 0.0) if metric == "probability_of_loss" else attachment - 1e-9
        assert static_tranche_metrics(losses, just_below, detachment)[metric] > target
    assert sizing.detachments[1:] == sizing.attachments[:-1]


def test_probability_of_loss_sizing_is_exact_on_resimulation():
    targets = [0.002, 0.01, 0.05, 0.2]
    sizing = size_tranches(mixed_pool(), targets, metric="probability_of_loss", copula=COPULA,
                           horizon_months=HORIZON, scenarios=SCENARIOS, seed=SEED)
    check_boundaries(sizing, resimulated_losses(), "probability_of_loss")
    assert sizing.attachments == sorted(sizing.attachments, reverse=True)


def test_expected_loss_sizing_is_exact_on_resimulation():
    targets = [0.0005, 0.02, 0.05, 0.15]
    sizing = size_tranches(mixed_pool(), targets, metric="expected_loss", copula=COPULA, horizon_months=HORIZON,
                           scenarios=SCENARIOS, seed=SEED)
    losses = resimulated_losses()
    check_boundaries(sizing, losses, "expected_loss")
    for attachment, detachment, target in zip(sizing.attachments, sizing.detachments, sizing.targets):
        assert static_tranche_metrics(losses, attachment, detachment)["expected_loss"] == pytest.approx(target,
                                                                                                       rel=1e-9)


def test_band_targets_and_a_target_that_cannot_be_met():
    losses = resimulated_losses()
    sizing = size_tranches(losses, ["AAA", "BBB", "B"], metric="expected_loss")
    assert sizing.targets == [band_target(b, "expected_loss") for b in ("AAA", "BBB", "B")]
    assert sizing.rating_table == ILLUSTRATIVE_LABEL
    check_boundaries(sizing, losses, "expected_loss")
    # A thin tranche just below the AAA one loses about P(L >= its detachment) > 0.15 %: no room for "A".
    squeezed = size_tranches(losses, ["AAA", "A"], metric="expected_loss")
    assert squeezed.attachments[1] == squeezed.detachments[1] and squeezed.achieved[1] == 0.0
    assert (losses >= squeezed.detachments[1]).mean() > band_target("A", "expected_loss")
    few = np.array([0.0, 0.1, 0.2, 0.3])
    tight = size_tranches(few, [0.25, 0.0])
    assert tight.attachments == [0.2, 0.2] and tight.achieved == [0.25, 0.0]   # second tranche has no room


def test_sizing_on_a_closed_form_distribution():
    pool = mixed_pool()
    dist = one_factor_loss_distribution(pool, COPULA, HORIZON, loss_step=1e-3)
    sizing = size_tranches(dist, [0.01, 0.05], metric="probability_of_loss")
    for attachment, detachment, target in zip(sizing.attachments, sizing.detachments, sizing.targets):
        assert dist.tranche_metrics(attachment, detachment)["probability_of_loss"] <= target
        below = dist.loss[np.searchsorted(dist.loss, attachment) - 1]
        assert dist.tranche_metrics(below, detachment)["probability_of_loss"] > target
    el = size_tranches(dist, [0.002], metric="expected_loss")
    assert dist.tranche_metrics(el.attachments[0], 1.0)["expected_loss"] == pytest.approx(0.002, rel=1e-9)


def test_bad_sizing_inputs():
    with pytest.raises(ValueError, match="metric"):
        size_tranches(np.zeros(10), [0.1], metric="var")
    with pytest.raises(ValueError, match="rating band 'AAAA' unknown"):
        size_tranches(np.zeros(10), ["AAAA"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        size_tranches(np.zeros(10), [1.5])
