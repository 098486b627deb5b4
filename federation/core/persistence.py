"""Persist a strategy's task state between steps (no pickle), so that a restarted aggregator resumes a
task from its last completed step.

Format: the array container of :mod:`federation.core.envelope` (``PTAR`` version 1: JSON header + raw
little-endian float64 arrays). The header holds ``kind = "presstrust.task-state"``, ``state_version``
and the state's fields; every list of weights or assignment arrays is stored as ``{"start": i,
"count": n}``, a run of the container's arrays. Assignments (integers) are stored as float64 and read
back exactly.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .envelope import MalformedEnvelope, decode_arrays, encode_arrays
from .specs import NetworkWeights, flatten_weights, spec_from_dict, unflatten_weights
from .strategies import FedMAState, Flag, TaskState

STATE_KIND = "presstrust.task-state"
STATE_VERSION = 1


class _ArrayRuns:
    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []

    def add(self, arrays: list[np.ndarray]) -> dict[str, int]:
        run = {"start": len(self.arrays), "count": len(arrays)}
        self.arrays.extend(arrays)
        return run

    def add_weights(self, weights: NetworkWeights | None) -> dict[str, int] | None:
        return None if weights is None else self.add(flatten_weights(weights))


def encode_state(state: TaskState) -> bytes:
    """Serialise a :class:`TaskState` or :class:`FedMAState` (see the module docstring)."""
    runs = _ArrayRuns()
    header: dict[str, Any] = {
        "kind": STATE_KIND,
        "state_version": STATE_VERSION,
        "state_type": "fedma" if isinstance(state, FedMAState) else "task",
        "participants": list(state.participants),
        "step": state.step,
        "global_spec": None if state.global_spec is None else state.global_spec.to_dict(),
        "global_weights": runs.add_weights(state.global_weights),
        "flags": [{"step": f.step, "participant": f.participant, "reason": f.reason} for f in state.flags],
    }
    if isinstance(state, FedMAState):
        header.update(
            pass_index=state.pass_index,
            layer_index=state.layer_index,
            active=list(state.active),
            participant_specs={p: s.to_dict() for p, s in state.participant_specs.items()},
            working_models={p: runs.add_weights(w) for p, w in state.working_models.items()},
            partial_global=runs.add_weights(state.partial_global),
            assignments={
                p: runs.add([np.asarray(a, np.float64) for a in held]) for p, held in state.assignments.items()
            },
        )
    return encode_arrays(runs.arrays, header)


def decode_state(blob: bytes) -> TaskState:
    """Inverse of :func:`encode_state`; raises :class:`MalformedEnvelope` on anything else."""
    header, arrays = decode_arrays(blob)
    if header.get("kind") != STATE_KIND or header.get("state_version") != STATE_VERSION:
        raise MalformedEnvelope("not a PressTrust task state of a supported version")

    def run(reference: dict[str, int]) -> list[np.ndarray]:
        start, count = int(reference["start"]), int(reference["count"])
        if start < 0 or start + count > len(arrays):
            raise MalformedEnvelope("task state refers to missing arrays")
        return arrays[start : start + count]

    def weights(reference: dict[str, int] | None) -> NetworkWeights | None:
        return None if reference is None else unflatten_weights(run(reference))

    try:
        common = dict(
            participants=tuple(header["participants"]),
            step=int(header["step"]),
            global_spec=None if header["global_spec"] is None else spec_from_dict(header["global_spec"]),
            global_weights=weights(header["global_weights"]),
            flags=tuple(Flag(int(f["step"]), f["participant"], f["reason"]) for f in header["flags"]),
        )
        if header["state_type"] == "task":
            return TaskState(**common)
        return FedMAState(
            **common,
            pass_index=int(header["pass_index"]),
            layer_index=int(header["layer_index"]),
            active=tuple(header["active"]),
            participant_specs={p: spec_from_dict(s) for p, s in header["participant_specs"].items()},
            working_models={p: weights(r) for p, r in header["working_models"].items()},
            partial_global=weights(header["partial_global"]),
            assignments={
                p: tuple(np.rint(a).astype(np.int64) for a in run(r)) for p, r in header["assignments"].items()
            },
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, MalformedEnvelope):
            raise
        raise MalformedEnvelope(f"incomplete task state: {exc}") from exc
