import math

import numpy as np
import pytest
from opacus.accountants import RDPAccountant
from opacus.accountants.analysis import rdp as opacus_rdp

from federation.core.client import execute_instruction
from federation.core.messages import TrainingConfig
from federation.core.privacy import (
    PrivacyBudgetExceeded,
    PrivacySettings,
    check_budget,
    epsilon_spent,
    privatise_update,
)
from federation.core.specs import MLPSpec
from federation.core.strategies import FedAvg


def test_epsilon_matches_opacus_for_a_subsampled_setting():
    # DP-SGD's classic MNIST setting (Abadi et al. 2016): q = 256/60000, sigma = 1.1, 60 epochs.
    settings = PrivacySettings(
        clip_norm=1.0, noise_multiplier=1.1, epsilon_budget=100, delta=1e-5, sample_rate=256 / 60000
    )
    steps = 60 * 60000 // 256
    accountant = RDPAccountant()
    accountant.history = [(1.1, 256 / 60000, steps)]
    expected = accountant.get_epsilon(delta=1e-5)
    orders = RDPAccountant.DEFAULT_ALPHAS
    rdp = opacus_rdp.compute_rdp(q=256 / 60000, noise_multiplier=1.1, steps=steps, orders=orders)
    direct, _ = opacus_rdp.get_privacy_spent(orders=orders, rdp=rdp, delta=1e-5)
    assert epsilon_spent(settings, steps) == pytest.approx(expected, rel=1e-9)
    assert epsilon_spent(settings, steps) == pytest.approx(direct, rel=1e-9)
    assert 1.0 < expected < 3.0  # the RDP analysis gives about 2 here


def test_epsilon_matches_the_gaussian_rdp_closed_form_without_sampling():
    """With every participant in every step the mechanism is the plain Gaussian one, whose RDP is
    alpha / (2 z^2) per step (Mironov 2017); convert with the same orders and rule as opacus."""
    settings = PrivacySettings(clip_norm=1.0, noise_multiplier=2.0, epsilon_budget=100, delta=1e-6)
    steps = 12
    orders = np.array(RDPAccountant.DEFAULT_ALPHAS, dtype=float)
    rdp = steps * orders / (2 * 2.0**2)
    closed_form = np.min(rdp - (math.log(1e-6) + np.log(orders)) / (orders - 1) + np.log((orders - 1) / orders))
    assert epsilon_spent(settings, steps) == pytest.approx(closed_form, rel=1e-9)
    assert epsilon_spent(settings, 0) == 0


def test_budget_check_refuses_the_step_that_would_overspend():
    settings = PrivacySettings(clip_norm=1.0, noise_multiplier=2.0, epsilon_budget=3.0, delta=1e-5)
    allowed = max(k for k in range(100) if epsilon_spent(settings, k) <= 3.0)
    assert check_budget(settings, allowed - 1) <= 3.0
    with pytest.raises(PrivacyBudgetExceeded, match="budget"):
        check_budget(settings, allowed)


def test_clipping_bounds_the_update_and_noise_has_the_promised_scale():
    rng = np.random.default_rng(0)
    start = [(np.zeros((300, 200)), np.zeros(300)), (np.zeros((10, 300)), np.zeros(10))]
    trained = [(rng.normal(size=w.shape), rng.normal(size=b.shape)) for w, b in start]
    quiet, norm = privatise_update(start, trained, clip_norm=2.0, noise_multiplier=1e-12, rng=rng)
    assert norm > 2.0
    clipped = math.sqrt(sum(np.sum(w**2) + np.sum(b**2) for w, b in quiet))
    assert clipped == pytest.approx(2.0, rel=1e-6)
    small = [(0.001 * w, 0.001 * b) for w, b in trained]
    kept, _ = privatise_update(start, small, clip_norm=2.0, noise_multiplier=1e-12, rng=rng)
    np.testing.assert_allclose(kept[0][0], small[0][0], atol=1e-9)
    noisy, _ = privatise_update(start, trained, clip_norm=2.0, noise_multiplier=0.5, rng=rng)
    noise = noisy[0][0] - quiet[0][0]
    assert np.std(noise) == pytest.approx(1.0, rel=0.02)


def test_a_dp_task_reports_its_spend_and_stops_at_its_budget():
    spec = MLPSpec(input_dim=4, hidden_sizes=(5,), num_classes=2)
    rng = np.random.default_rng(1)
    data = {p: (rng.normal(size=(20, 4)), rng.integers(0, 2, 20)) for p in ("a", "b", "c")}
    privacy = PrivacySettings(clip_norm=0.5, noise_multiplier=1.5, epsilon_budget=4.0, delta=1e-5)
    strategy = FedAvg(rounds=50, training=TrainingConfig(epochs=1), privacy=privacy)
    state = strategy.start(list(data), spec)
    with pytest.raises(PrivacyBudgetExceeded):
        while True:
            instructions = strategy.instructions(state)
            updates = {}
            for participant, instruction in instructions.items():
                assert instruction.privacy == privacy
                update = execute_instruction(instruction, *data[participant], noise_rng=rng)
                change = sum(
                    np.sum((w - sw) ** 2) + np.sum((b - sb) ** 2)
                    for (w, b), (sw, sb) in zip(update.layers, instruction.weights)
                )
                assert np.sqrt(change) > 0.5  # the noise is really there (0.5 is the clip norm)
                updates[participant] = update
            state = strategy.aggregate(state, updates)
    epsilon, delta = strategy.privacy_spent(state)
    assert delta == 1e-5
    assert 0 < epsilon <= 4.0 < epsilon_spent(privacy, state.step + 1)
    assert state.step == max(k for k in range(60) if epsilon_spent(privacy, k) <= 4.0)


def test_privacy_settings_refuse_nonsense():
    with pytest.raises(ValueError):
        PrivacySettings(clip_norm=0, noise_multiplier=1, epsilon_budget=1)
    with pytest.raises(ValueError):
        PrivacySettings(clip_norm=1, noise_multiplier=1, epsilon_budget=1, sample_rate=1.5)
