"""Model specifications the portal can name, store and rebuild.

A spec is a small frozen dataclass that round-trips through a JSON-able dict (``spec.to_dict()`` /
``spec_from_dict(d)``). Two families are supported, both with ReLU activations:

- :class:`MLPSpec`: a multi-layer perceptron of any depth and widths;
- :class:`Conv1dSpec`: a 1-D convolutional network for spectra or raw signal windows
  (valid convolutions, each optionally followed by max pooling, then a dense head).

Weights travel as plain numpy arrays: a network is a list of ``(weight, bias)`` pairs, one per
parametric layer (convolution or dense) in forward order, in PyTorch's layout (dense weight
``(out, in)``, convolution weight ``(out_channels, in_channels, kernel_size)``).

For neuron matching (FedMA, Wang et al., ICLR 2020) every spec also says how a layer's input side is
grouped by the units of the previous layer (:meth:`input_block_sizes`): 1 column per unit for
dense -> dense, ``kernel_size`` columns per channel for conv -> conv, and ``length`` columns per channel
for the last convolution -> first dense layer (PyTorch flattens ``(channels, length)`` channel-major).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Union

import numpy as np

SPEC_FORMAT_VERSION = 1

LayerWeights = tuple[np.ndarray, np.ndarray]
NetworkWeights = list[LayerWeights]


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class MLPSpec:
    """Dense network ``input_dim -> hidden_sizes... -> num_classes`` with ReLU between layers."""

    input_dim: int
    hidden_sizes: tuple[int, ...]
    num_classes: int

    kind = "mlp"

    def __post_init__(self) -> None:
        _positive_int(self.input_dim, "input_dim")
        _positive_int(self.num_classes, "num_classes")
        object.__setattr__(
            self, "hidden_sizes", tuple(_positive_int(h, "hidden size") for h in self.hidden_sizes)
        )

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        """Output width of every parametric layer except the last (the ones FedMA matches)."""
        return self.hidden_sizes

    @property
    def layer_count(self) -> int:
        return len(self.hidden_sizes) + 1

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.input_dim,)

    def with_hidden_widths(self, widths: tuple[int, ...] | list[int]) -> MLPSpec:
        """The same architecture with other hidden widths (e.g. a FedMA global model's)."""
        if len(widths) != len(self.hidden_sizes):
            raise ValueError(f"expected {len(self.hidden_sizes)} hidden widths, got {len(widths)}")
        return replace(self, hidden_sizes=tuple(int(w) for w in widths))

    def parameter_shapes(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        sizes = [self.input_dim, *self.hidden_sizes, self.num_classes]
        return [((out, inp), (out,)) for inp, out in zip(sizes[:-1], sizes[1:])]

    def input_block_sizes(self) -> list[int]:
        """For parametric layers 1..N-1: input columns fed by each unit of the previous layer."""
        return [1] * len(self.hidden_sizes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": SPEC_FORMAT_VERSION,
            "input_dim": self.input_dim,
            "hidden_sizes": list(self.hidden_sizes),
            "num_classes": self.num_classes,
        }


@dataclass(frozen=True)
class ConvLayer:
    """One valid 1-D convolution (stride 1) + ReLU, then max pooling of ``pool_size`` (1 = none)."""

    out_channels: int
    kernel_size: int
    pool_size: int = 1

    def __post_init__(self) -> None:
        _positive_int(self.out_channels, "out_channels")
        _positive_int(self.kernel_size, "kernel_size")
        _positive_int(self.pool_size, "pool_size")


@dataclass(frozen=True)
class Conv1dSpec:
    """1-D CNN: ``conv_layers`` over ``(input_channels, input_length)`` inputs, then a dense head
    ``flatten -> dense_hidden_sizes... -> num_classes``."""

    input_channels: int
    input_length: int
    conv_layers: tuple[ConvLayer, ...]
    dense_hidden_sizes: tuple[int, ...]
    num_classes: int

    kind = "cnn1d"

    def __post_init__(self) -> None:
        _positive_int(self.input_channels, "input_channels")
        _positive_int(self.input_length, "input_length")
        _positive_int(self.num_classes, "num_classes")
        layers = tuple(
            layer if isinstance(layer, ConvLayer) else ConvLayer(**layer) for layer in self.conv_layers
        )
        if not layers:
            raise ValueError("a Conv1dSpec needs at least one convolution layer")
        object.__setattr__(self, "conv_layers", layers)
        object.__setattr__(
            self,
            "dense_hidden_sizes",
            tuple(_positive_int(h, "dense hidden size") for h in self.dense_hidden_sizes),
        )
        if self.feature_lengths()[-1] < 1:
            raise ValueError("the convolution/pooling stack leaves no samples: input_length too short")

    def feature_lengths(self) -> list[int]:
        """Signal length after each convolution + pooling stage (samples)."""
        lengths = []
        length = self.input_length
        for layer in self.conv_layers:
            length = (length - layer.kernel_size + 1) // layer.pool_size
            lengths.append(length)
        return lengths

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return tuple(layer.out_channels for layer in self.conv_layers) + self.dense_hidden_sizes

    @property
    def layer_count(self) -> int:
        return len(self.conv_layers) + len(self.dense_hidden_sizes) + 1

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.input_channels, self.input_length)

    def with_hidden_widths(self, widths: tuple[int, ...] | list[int]) -> Conv1dSpec:
        conv_count = len(self.conv_layers)
        if len(widths) != conv_count + len(self.dense_hidden_sizes):
            raise ValueError(f"expected {len(self.hidden_widths)} hidden widths, got {len(widths)}")
        conv_layers = tuple(
            replace(layer, out_channels=int(width)) for layer, width in zip(self.conv_layers, widths)
        )
        return replace(
            self,
            conv_layers=conv_layers,
            dense_hidden_sizes=tuple(int(w) for w in widths[conv_count:]),
        )

    def parameter_shapes(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        shapes: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        channels = self.input_channels
        for layer in self.conv_layers:
            shapes.append(((layer.out_channels, channels, layer.kernel_size), (layer.out_channels,)))
            channels = layer.out_channels
        width = channels * self.feature_lengths()[-1]
        for hidden in (*self.dense_hidden_sizes, self.num_classes):
            shapes.append(((hidden, width), (hidden,)))
            width = hidden
        return shapes

    def input_block_sizes(self) -> list[int]:
        blocks = [layer.kernel_size for layer in self.conv_layers[1:]]
        blocks.append(self.feature_lengths()[-1])
        blocks.extend([1] * len(self.dense_hidden_sizes))
        return blocks

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": SPEC_FORMAT_VERSION,
            "input_channels": self.input_channels,
            "input_length": self.input_length,
            "conv_layers": [
                {"out_channels": c.out_channels, "kernel_size": c.kernel_size, "pool_size": c.pool_size}
                for c in self.conv_layers
            ],
            "dense_hidden_sizes": list(self.dense_hidden_sizes),
            "num_classes": self.num_classes,
        }


ModelSpec = Union[MLPSpec, Conv1dSpec]


def spec_from_dict(data: dict[str, Any]) -> ModelSpec:
    """Rebuild a spec from :meth:`to_dict` output; raises ``ValueError`` on an unknown kind/version."""
    if data.get("version") != SPEC_FORMAT_VERSION:
        raise ValueError(f"unsupported model spec version {data.get('version')!r}")
    kind = data.get("kind")
    fields = {k: v for k, v in data.items() if k not in ("kind", "version")}
    try:
        if kind == MLPSpec.kind:
            return MLPSpec(
                input_dim=fields["input_dim"],
                hidden_sizes=tuple(fields["hidden_sizes"]),
                num_classes=fields["num_classes"],
            )
        if kind == Conv1dSpec.kind:
            return Conv1dSpec(
                input_channels=fields["input_channels"],
                input_length=fields["input_length"],
                conv_layers=tuple(ConvLayer(**layer) for layer in fields["conv_layers"]),
                dense_hidden_sizes=tuple(fields["dense_hidden_sizes"]),
                num_classes=fields["num_classes"],
            )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed {kind} spec: {exc}") from exc
    raise ValueError(f"unknown model kind {kind!r}")


def check_weights(spec: ModelSpec, weights: NetworkWeights) -> None:
    """Raise ``ValueError`` unless ``weights`` has exactly the shapes of ``spec`` and is finite."""
    expected = spec.parameter_shapes()
    if len(weights) != len(expected):
        raise ValueError(f"expected {len(expected)} layers, got {len(weights)}")
    for index, ((weight, bias), (weight_shape, bias_shape)) in enumerate(zip(weights, expected)):
        if tuple(np.shape(weight)) != weight_shape or tuple(np.shape(bias)) != bias_shape:
            raise ValueError(
                f"layer {index}: expected shapes {weight_shape}/{bias_shape}, "
                f"got {np.shape(weight)}/{np.shape(bias)}"
            )
        if not (np.all(np.isfinite(weight)) and np.all(np.isfinite(bias))):
            raise ValueError(f"layer {index}: non-finite weights")


def flatten_weights(weights: NetworkWeights) -> list[np.ndarray]:
    """``[(W1, b1), (W2, b2), ...] -> [W1, b1, W2, b2, ...]`` (for serialisation)."""
    return [array for layer in weights for array in layer]


def unflatten_weights(arrays: list[np.ndarray]) -> NetworkWeights:
    """Inverse of :func:`flatten_weights`."""
    if len(arrays) % 2:
        raise ValueError("weights come in (weight, bias) pairs: got an odd number of arrays")
    return [(np.asarray(arrays[i]), np.asarray(arrays[i + 1])) for i in range(0, len(arrays), 2)]


def copy_weights(weights: NetworkWeights) -> NetworkWeights:
    return [(np.array(w, dtype=np.float64), np.array(b, dtype=np.float64)) for w, b in weights]


def layer_rows(weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """A layer as matching rows: row l = neuron l's incoming weights (flattened) followed by its bias."""
    weight = np.asarray(weight, dtype=np.float64)
    return np.concatenate([weight.reshape(weight.shape[0], -1), np.asarray(bias, np.float64)[:, None]], 1)


def rows_to_layer(rows: np.ndarray, weight_tail_shape: tuple[int, ...]) -> LayerWeights:
    """Inverse of :func:`layer_rows`: ``weight_tail_shape`` is the weight shape without its first axis."""
    rows = np.asarray(rows, dtype=np.float64)
    return rows[:, :-1].reshape((rows.shape[0], *weight_tail_shape)).copy(), rows[:, -1].copy()
