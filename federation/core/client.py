"""The participant's side of a step: train on local data, privatise if asked, answer."""
from __future__ import annotations

import numpy as np

from .messages import ClientInstruction, ClientUpdate
from .privacy import privatise_update
from .training import train_local


def execute_instruction(
    instruction: ClientInstruction,
    features: np.ndarray,
    labels: np.ndarray,
    *,
    noise_rng: np.random.Generator | None = None,
) -> ClientUpdate:
    """Run ``instruction`` on this participant's ``(features, labels)`` and build its update.

    With differential privacy on, the trained layers' change is clipped and noised here
    (:func:`federation.core.privacy.privatise_update`) with ``noise_rng`` (default: fresh OS entropy).
    """
    trained, report = train_local(
        instruction.spec,
        instruction.weights,
        features,
        labels,
        config=instruction.training,
        seed=instruction.seed,
        frozen_layers=instruction.frozen_layers,
    )
    layers = trained[instruction.frozen_layers :]
    if instruction.privacy is not None:
        layers, _ = privatise_update(
            instruction.weights[instruction.frozen_layers :],
            layers,
            clip_norm=instruction.privacy.clip_norm,
            noise_multiplier=instruction.privacy.noise_multiplier,
            rng=noise_rng if noise_rng is not None else np.random.default_rng(),
        )
    return ClientUpdate(
        participant=instruction.participant,
        step=instruction.step,
        first_layer=instruction.frozen_layers,
        layers=layers,
        num_samples=report.num_samples,
        class_counts=report.class_counts,
        train_loss=report.final_loss,
    )
