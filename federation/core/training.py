"""Local training and evaluation of :mod:`federation.core.specs` models with PyTorch on the CPU.

Everything here is deterministic under a seed: weights are given (or drawn by :func:`initial_weights`
under ``seed``), mini-batches are shuffled by a seeded ``torch.Generator``, and training runs with one
intra-op thread and ``torch.use_deterministic_algorithms(True)`` (both restored afterwards), so the same
inputs give bit-identical weights on the same machine.

Training minimises the mean cross-entropy (nats) of a softmax output with Adam (Kingma & Ba, ICLR 2015)
or SGD with momentum; with ``TrainingConfig.loss == "mse"`` it minimises the mean squared error of the
network's single output against a real-valued target (regression; the labels are then floats).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .messages import TrainingConfig
from .metrics import ClassificationMetrics, classification_metrics
from .specs import Conv1dSpec, MLPSpec, ModelSpec, NetworkWeights, check_weights


@dataclass(frozen=True)
class TrainingReport:
    """What local training reports besides the weights."""

    num_samples: int
    class_counts: tuple[int, ...]
    final_loss: float  # mean cross-entropy over the last epoch, nats (nan when epochs == 0)


class _Network(nn.Module):
    """A spec's network; ``parametric_layers`` lists its Linear/Conv1d modules in forward order."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        blocks: list[nn.Module] = []
        self.input_shape = spec.input_shape
        if isinstance(spec, Conv1dSpec):
            channels = spec.input_channels
            for layer in spec.conv_layers:
                blocks += [nn.Conv1d(channels, layer.out_channels, layer.kernel_size), nn.ReLU()]
                if layer.pool_size > 1:
                    blocks.append(nn.MaxPool1d(layer.pool_size))
                channels = layer.out_channels
            blocks.append(nn.Flatten())
            width = channels * spec.feature_lengths()[-1]
            hidden = spec.dense_hidden_sizes
        elif isinstance(spec, MLPSpec):
            width = spec.input_dim
            hidden = spec.hidden_sizes
        else:
            raise TypeError(f"unsupported spec type {type(spec).__name__}")
        for size in hidden:
            blocks += [nn.Linear(width, size), nn.ReLU()]
            width = size
        blocks.append(nn.Linear(width, spec.num_classes))
        self.body = nn.Sequential(*blocks)
        self.parametric_layers = [m for m in self.body if isinstance(m, (nn.Linear, nn.Conv1d))]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.body(inputs)


@contextlib.contextmanager
def _deterministic_torch() -> Iterator[None]:
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def build_module(spec: ModelSpec, weights: NetworkWeights | None = None) -> nn.Module:
    """A ``torch.nn.Module`` for ``spec`` (float32), loaded with ``weights`` when given."""
    module = _Network(spec)
    if weights is not None:
        load_weights(module, spec, weights)
    return module


def load_weights(module: nn.Module, spec: ModelSpec, weights: NetworkWeights) -> None:
    """Copy ``weights`` (checked against ``spec``) into ``module``'s parametric layers."""
    check_weights(spec, weights)
    with torch.no_grad():
        for layer, (weight, bias) in zip(module.parametric_layers, weights):
            layer.weight.copy_(torch.as_tensor(np.asarray(weight), dtype=torch.float32))
            layer.bias.copy_(torch.as_tensor(np.asarray(bias), dtype=torch.float32))


def module_weights(module: nn.Module) -> NetworkWeights:
    """The module's parameters as ``[(weight, bias), ...]`` float64 numpy arrays."""
    return [
        (layer.weight.detach().double().numpy().copy(), layer.bias.detach().double().numpy().copy())
        for layer in module.parametric_layers
    ]


def initial_weights(spec: ModelSpec, seed: int) -> NetworkWeights:
    """PyTorch's default (Kaiming-uniform) initialisation of ``spec``, reproducible under ``seed``."""
    with _deterministic_torch():
        torch.manual_seed(seed)
        return module_weights(_Network(spec))


def _as_input_tensor(spec: ModelSpec, features: np.ndarray) -> torch.Tensor:
    features = np.asarray(features, dtype=np.float32)
    if isinstance(spec, Conv1dSpec) and features.ndim == 2 and spec.input_channels == 1:
        features = features[:, None, :]
    if features.shape[1:] != spec.input_shape:
        raise ValueError(f"features of shape {features.shape[1:]} do not fit input {spec.input_shape}")
    return torch.from_numpy(np.ascontiguousarray(features))


def _as_label_tensor(spec: ModelSpec, labels: np.ndarray, count: int) -> torch.Tensor:
    labels = np.asarray(labels)
    if labels.shape != (count,):
        raise ValueError(f"expected {count} labels, got shape {labels.shape}")
    if count and (labels.min() < 0 or labels.max() >= spec.num_classes):
        raise ValueError(f"labels must lie in 0..{spec.num_classes - 1}")
    return torch.from_numpy(labels.astype(np.int64))


def _as_target_tensor(spec: ModelSpec, targets: np.ndarray, count: int) -> torch.Tensor:
    targets = np.asarray(targets, dtype=np.float32)
    if spec.num_classes != 1:
        raise ValueError("a regression model has exactly one output")
    if targets.shape != (count,) or not np.all(np.isfinite(targets)):
        raise ValueError(f"expected {count} finite targets, got shape {targets.shape}")
    return torch.from_numpy(np.ascontiguousarray(targets))


def train_local(
    spec: ModelSpec,
    weights: NetworkWeights,
    features: np.ndarray,
    labels: np.ndarray,
    *,
    config: TrainingConfig,
    seed: int,
    frozen_layers: int = 0,
) -> tuple[NetworkWeights, TrainingReport]:
    """Train ``spec`` from ``weights`` on one participant's data; the first ``frozen_layers``
    parametric layers stay fixed (FedMA's layer-wise retraining).

    ``features``: ``(n, *spec.input_shape)`` (or ``(n, length)`` for a one-channel CNN); ``labels``:
    ``(n,)`` integers in ``0..num_classes-1``. Returns the new weights (float64) and a report.
    """
    if not 0 <= frozen_layers <= spec.layer_count:
        raise ValueError(f"frozen_layers must lie in 0..{spec.layer_count}")
    inputs = _as_input_tensor(spec, features)
    regression = config.loss == "mse"
    if regression:
        targets = _as_target_tensor(spec, labels, inputs.shape[0])
        class_counts = (int(inputs.shape[0]),)
    else:
        targets = _as_label_tensor(spec, labels, inputs.shape[0])
        class_counts = tuple(int(c) for c in np.bincount(targets.numpy(), minlength=spec.num_classes))
    final_loss = float("nan")
    with _deterministic_torch():
        torch.manual_seed(seed)
        module = build_module(spec, weights)
        for index, layer in enumerate(module.parametric_layers):
            layer.requires_grad_(index >= frozen_layers)
        trainable = [p for p in module.parameters() if p.requires_grad]
        if trainable and inputs.shape[0] and config.epochs:
            if config.optimizer == "adam":
                optimiser = torch.optim.Adam(
                    trainable, lr=config.learning_rate, weight_decay=config.weight_decay
                )
            else:
                optimiser = torch.optim.SGD(
                    trainable,
                    lr=config.learning_rate,
                    momentum=config.momentum,
                    weight_decay=config.weight_decay,
                )
            generator = torch.Generator().manual_seed(seed)
            if regression:
                mse = nn.MSELoss()

                def loss_function(outputs, wanted):
                    return mse(outputs[:, 0], wanted)
            else:
                loss_function = nn.CrossEntropyLoss()
            module.train()
            for _ in range(config.epochs):
                order = torch.randperm(inputs.shape[0], generator=generator)
                total = 0.0
                for start in range(0, inputs.shape[0], config.batch_size):
                    batch = order[start : start + config.batch_size]
                    optimiser.zero_grad()
                    loss = loss_function(module(inputs[batch]), targets[batch])
                    loss.backward()
                    optimiser.step()
                    total += float(loss.detach()) * len(batch)
                final_loss = total / inputs.shape[0]
        new_weights = module_weights(module)
    return new_weights, TrainingReport(
        num_samples=int(inputs.shape[0]), class_counts=class_counts, final_loss=final_loss
    )


def predict_probabilities(
    spec: ModelSpec, weights: NetworkWeights, features: np.ndarray, *, batch_size: int = 4096
) -> np.ndarray:
    """Class probabilities ``(n, num_classes)`` (softmax of the network's output), float64."""
    inputs = _as_input_tensor(spec, features)
    with _deterministic_torch(), torch.no_grad():
        module = build_module(spec, weights).eval()
        outputs = [
            torch.softmax(module(inputs[start : start + batch_size]).double(), dim=1)
            for start in range(0, inputs.shape[0], batch_size)
        ]
    if not outputs:
        return np.zeros((0, spec.num_classes))
    return torch.cat(outputs).numpy()


def predict_values(spec: ModelSpec, weights: NetworkWeights, features: np.ndarray) -> np.ndarray:
    """A regression model's predictions ``(n,)`` (its single raw output), float64, in the units the
    targets were trained in."""
    inputs = _as_input_tensor(spec, features)
    with _deterministic_torch(), torch.no_grad():
        module = build_module(spec, weights).eval()
        output = module(inputs).double()[:, 0] if inputs.shape[0] else torch.zeros(0, dtype=torch.float64)
    return output.numpy().copy()


def evaluate(
    spec: ModelSpec, weights: NetworkWeights, features: np.ndarray, labels: np.ndarray
) -> ClassificationMetrics:
    """Loss, accuracy, AUC, F1, KS and confusion matrix of the model on ``(features, labels)``."""
    probabilities = predict_probabilities(spec, weights, features)
    return classification_metrics(labels, probabilities)
