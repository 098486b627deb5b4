"""What the aggregator asks a participant to do in a step, and what the participant sends back.

A strategy (:mod:`federation.core.strategies`) turns its state into one :class:`ClientInstruction` per
participant; the participant runs it on its own data (:func:`federation.core.client.execute_instruction`)
and answers with a :class:`ClientUpdate`, which travels sealed in an envelope
(:mod:`federation.core.envelope`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .privacy import PrivacySettings
from .specs import ModelSpec, NetworkWeights


@dataclass(frozen=True)
class TrainingConfig:
    """Local optimisation settings: ``epochs`` full passes over the participant's data, mini-batches
    of ``batch_size``, Adam or SGD (with ``momentum``) at ``learning_rate``. ``loss`` is
    ``cross_entropy`` (classification) or ``mse`` (regression of one standardised target: the network's
    single output is the prediction); ``weight_decay`` is an L2 penalty (ridge regression with ``mse``)."""

    epochs: int = 5
    learning_rate: float = 0.01
    batch_size: int = 32
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    loss: str = "cross_entropy"

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.batch_size < 1 or not self.learning_rate > 0:
            raise ValueError("epochs >= 0, batch_size >= 1 and learning_rate > 0 are required")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.loss not in ("cross_entropy", "mse"):
            raise ValueError(f"loss must be 'cross_entropy' or 'mse', got {self.loss!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        return cls(**data)


@dataclass(frozen=True)
class ClientInstruction:
    """Train ``spec`` from ``weights`` with the first ``frozen_layers`` parametric layers fixed, then
    send back the trained layers ``frozen_layers..`` (privatised first when ``privacy`` is set)."""

    participant: str
    step: int
    spec: ModelSpec
    weights: NetworkWeights
    frozen_layers: int
    training: TrainingConfig
    seed: int
    privacy: PrivacySettings | None = None

    def expected_update_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the arrays a valid answer carries (weight, bias, weight, bias, ...)."""
        return [shape for pair in self.spec.parameter_shapes()[self.frozen_layers :] for shape in pair]


@dataclass(frozen=True)
class ClientUpdate:
    """A participant's answer to a step: its trained layers ``first_layer..`` and what it trained on."""

    participant: str
    step: int
    first_layer: int
    layers: NetworkWeights
    num_samples: int
    class_counts: tuple[int, ...]
    train_loss: float

    def full_weights(self, instruction: ClientInstruction) -> NetworkWeights:
        """The participant's whole model: the frozen layers it was sent, then its trained layers."""
        return list(instruction.weights[: self.first_layer]) + list(self.layers)
