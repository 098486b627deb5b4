"""Aggregation strategies behind one small interface (in the spirit of Flower's ``Strategy``).

A strategy holds only its configuration; the progress of a task lives in an immutable state object
that the portal can persist between steps. The contract, for one step:

1. ``instructions(state)`` -> one :class:`ClientInstruction` per participant (what to train, from
   which weights, which layers stay frozen); raises ``PrivacyBudgetExceeded`` if the step would spend
   more privacy than the task's budget;
2. each participant answers with a :class:`ClientUpdate` (:func:`federation.core.client.execute_instruction`);
3. ``aggregate(state, updates)`` -> the next state (a participant that did not answer is left out);
4. ``is_finished(state)``; ``state.global_weights`` / ``state.global_spec`` is the latest complete
   global model; ``state.flags`` lists the participants a robust rule suspected, and why.

A step is one round of communication. Strategies:

- :class:`FedAvg`: sample-count-weighted average of whole models (McMahan et al., AISTATS 2017);
- :class:`RobustFedAvg`: norm checks plus coordinate-wise median / trimmed mean (:mod:`.robust`);
- :class:`FedMA`: layer-wise matched averaging with retraining between layers and "with
  communication" passes (Wang et al., ICLR 2020), optionally with neuron outlier rejection;
- :class:`OneShotMatching`: one local training, then every layer matched at once without retraining
  (PFNM, Yurochkin et al., ICML 2019), for evaluation.
"""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .fedma import (
    LayerMatch,
    MatchingSettings,
    client_model_from_global,
    combine_output_layers,
    match_layer,
    match_network_layers,
    remap_input_units,
)
from .messages import ClientInstruction, ClientUpdate, TrainingConfig
from .privacy import PrivacySettings, check_budget, epsilon_spent
from .robust import (
    RobustSettings,
    flag_large_norms,
    flag_low_agreement,
    reject_neuron_outliers,
    reject_output_outliers,
    robust_average,
    update_norm,
)
from .specs import ModelSpec, NetworkWeights, copy_weights, layer_rows, rows_to_layer
from .training import initial_weights


@dataclass(frozen=True)
class Flag:
    """A participant a robust rule suspected at a step."""

    step: int
    participant: str
    reason: str


@dataclass(frozen=True)
class TaskState:
    """Progress of a federated task. ``step`` counts completed steps (= communication rounds)."""

    participants: tuple[str, ...]
    step: int
    global_spec: ModelSpec | None
    global_weights: NetworkWeights | None
    flags: tuple[Flag, ...] = ()


def _spec_with_widths_of(spec: ModelSpec, weights: NetworkWeights) -> ModelSpec:
    return spec.with_hidden_widths([np.shape(weight)[0] for weight, _ in weights[:-1]])


def _participant_seed(seed: int, step: int, participant: str) -> int:
    digest = hashlib.sha256(f"{seed}:{step}:{participant}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _flatten(weights: NetworkWeights) -> np.ndarray:
    return np.concatenate([np.ravel(array) for layer in weights for array in layer])


def _unflatten(vector: np.ndarray, like: NetworkWeights) -> NetworkWeights:
    out: NetworkWeights = []
    offset = 0
    for weight, bias in like:
        arrays = []
        for array in (weight, bias):
            size = int(np.size(array))
            arrays.append(vector[offset : offset + size].reshape(np.shape(array)))
            offset += size
        out.append((arrays[0], arrays[1]))
    return out


class Strategy(ABC):
    """Common configuration: local ``training`` settings, optional differential ``privacy``, ``seed``."""

    name = "strategy"

    def __init__(
        self,
        *,
        training: TrainingConfig = TrainingConfig(),
        privacy: PrivacySettings | None = None,
        seed: int = 0,
    ):
        self.training = training
        self.privacy = privacy
        self.seed = seed

    @abstractmethod
    def start(
        self,
        participants: Sequence[str],
        spec: ModelSpec,
        *,
        participant_specs: Mapping[str, ModelSpec] | None = None,
        initial: NetworkWeights | None = None,
    ) -> TaskState:
        """The state before the first step; ``initial`` weights default to a seeded initialisation."""

    @abstractmethod
    def instructions(self, state: TaskState) -> dict[str, ClientInstruction]:
        """What each participant is asked to do in the next step."""

    @abstractmethod
    def aggregate(self, state: TaskState, updates: Mapping[str, ClientUpdate]) -> TaskState:
        """Combine the participants' answers to the current step into the next state."""

    @abstractmethod
    def is_finished(self, state: TaskState) -> bool:
        """True once the task has run all its steps."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able configuration; :func:`strategy_from_dict` rebuilds the strategy."""
        return {
            "name": self.name,
            "training": self.training.to_dict(),
            "privacy": None if self.privacy is None else self.privacy.to_dict(),
            "seed": self.seed,
            **self._options(),
        }

    def _options(self) -> dict[str, Any]:
        return {}

    def privacy_spent(self, state: TaskState) -> tuple[float, float]:
        """``(epsilon, delta)`` spent so far (``(0, 0)`` without differential privacy)."""
        if self.privacy is None:
            return 0.0, 0.0
        return epsilon_spent(self.privacy, state.step), self.privacy.delta

    def _check_privacy_budget(self, state: TaskState) -> None:
        if self.privacy is not None:
            check_budget(self.privacy, state.step)

    def _instruction(
        self, state: TaskState, participant: str, spec: ModelSpec, weights: NetworkWeights, frozen: int
    ) -> ClientInstruction:
        return ClientInstruction(
            participant=participant,
            step=state.step,
            spec=spec,
            weights=weights,
            frozen_layers=frozen,
            training=self.training,
            seed=_participant_seed(self.seed, state.step, participant),
            privacy=self.privacy,
        )

    def _answers(
        self, state: TaskState, updates: Mapping[str, ClientUpdate]
    ) -> list[tuple[ClientInstruction, ClientUpdate]]:
        """The updates that answer this step, each with its instruction; rejects misfits loudly."""
        instructions = self.instructions(state)
        answers = []
        for participant, update in updates.items():
            instruction = instructions.get(participant)
            if instruction is None:
                raise ValueError(f"{participant!r} was not asked to take part in step {state.step}")
            if update.participant != participant or update.step != state.step:
                raise ValueError(f"update of {participant!r} does not answer step {state.step}")
            if update.first_layer != instruction.frozen_layers:
                raise ValueError(f"update of {participant!r} starts at the wrong layer")
            shapes = [np.shape(a) for layer in update.layers for a in layer]
            if shapes != [tuple(s) for s in instruction.expected_update_shapes()]:
                raise ValueError(f"update of {participant!r} does not fit the model spec")
            answers.append((instruction, update))
        if not answers:
            raise ValueError(f"no updates for step {state.step}")
        order = {participant: index for index, participant in enumerate(instructions)}
        answers.sort(key=lambda pair: order[pair[0].participant])
        return answers

    @staticmethod
    def _require_finite(answers: list[tuple[ClientInstruction, ClientUpdate]]) -> None:
        """Plain (non-robust) rules cannot absorb NaN or infinite weights: refuse them by name."""
        for _, update in answers:
            if not all(np.all(np.isfinite(a)) for layer in update.layers for a in layer):
                raise ValueError(f"update of {update.participant!r} has non-finite weights")


class FedAvg(Strategy):
    """Federated averaging: every step, all participants train the global model for
    ``training.epochs`` epochs; the server averages the models weighted by sample counts."""

    name = "fedavg"

    def __init__(self, *, rounds: int, **common):
        super().__init__(**common)
        if rounds < 1:
            raise ValueError("rounds must be >= 1")
        self.rounds = rounds

    def _options(self) -> dict[str, Any]:
        return {"rounds": self.rounds}

    def start(self, participants, spec, *, participant_specs=None, initial=None) -> TaskState:
        if participant_specs and any(s != spec for s in participant_specs.values()):
            raise ValueError(f"{self.name} needs every participant to use the same model spec")
        if not participants:
            raise ValueError("no participants")
        weights = copy_weights(initial) if initial is not None else initial_weights(spec, self.seed)
        return TaskState(tuple(participants), 0, spec, weights)

    def instructions(self, state: TaskState) -> dict[str, ClientInstruction]:
        if self.is_finished(state):
            return {}
        self._check_privacy_budget(state)
        return {
            p: self._instruction(state, p, state.global_spec, state.global_weights, 0)
            for p in state.participants
        }

    def aggregate(self, state: TaskState, updates: Mapping[str, ClientUpdate]) -> TaskState:
        answers = self._answers(state, updates)
        self._require_finite(answers)
        vectors = np.stack([_flatten(update.full_weights(instruction)) for instruction, update in answers])
        counts = np.array([update.num_samples for _, update in answers], dtype=np.float64)
        weights = counts / counts.sum() if counts.sum() > 0 else np.full(len(answers), 1 / len(answers))
        average = weights @ vectors
        return replace(state, step=state.step + 1, global_weights=_unflatten(average, state.global_weights))

    def is_finished(self, state: TaskState) -> bool:
        return state.step >= self.rounds


class RobustFedAvg(FedAvg):
    """FedAvg with the robust rule of :mod:`federation.core.robust` (norm checks, coordinate-wise
    median or trimmed mean of the updates, flagging of suspected participants)."""

    name = "robust_fedavg"

    def __init__(self, *, rounds: int, robust: RobustSettings = RobustSettings(), **common):
        super().__init__(rounds=rounds, **common)
        self.robust = robust

    def _options(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "robust": self.robust.to_dict()}

    def aggregate(self, state: TaskState, updates: Mapping[str, ClientUpdate]) -> TaskState:
        answers = self._answers(state, updates)
        base = _flatten(state.global_weights)
        deltas = np.stack([_flatten(update.full_weights(instruction)) - base for instruction, update in answers])
        result = robust_average(deltas, self.robust)
        flags = tuple(
            Flag(state.step, answers[index][1].participant, reason) for index, reason in sorted(result.flagged.items())
        )
        return replace(
            state,
            step=state.step + 1,
            global_weights=_unflatten(base + result.update, state.global_weights),
            flags=state.flags + flags,
        )


@dataclass(frozen=True)
class FedMAState(TaskState):
    """FedMA progress: in pass ``pass_index``, layer ``layer_index`` is trained next by the ``active``
    participants, each from its ``working_models`` entry (layers before ``layer_index`` are the
    ``partial_global`` layers matched in this pass, the rest its own, input side remapped).
    ``participant_specs`` are the participants' own architectures; ``assignments[p][n]`` maps its
    neurons of hidden layer n to global neurons (this pass)."""

    pass_index: int = 0
    layer_index: int = 0
    active: tuple[str, ...] = ()
    participant_specs: Mapping[str, ModelSpec] = field(default_factory=dict)
    working_models: Mapping[str, NetworkWeights] = field(default_factory=dict)
    partial_global: NetworkWeights = field(default_factory=list)
    assignments: Mapping[str, tuple[np.ndarray, ...]] = field(default_factory=dict)


class FedMA(Strategy):
    """FedMA with communication (Wang et al., ICLR 2020, Alg. 1 and Sec. 2.3).

    One pass has one step per parametric layer (N steps = N communication rounds). At step n the
    active participants train layers n..N-1 (layers before n frozen at the global layers matched in
    this pass) and send them; for n < N-1 the server matches layer n with BBP-MAP
    (:func:`federation.core.fedma.match_layer`, ``matching`` settings) and every participant's next
    layer is remapped into the global index space; for n = N-1 the output layer is the
    class-share-weighted average. After a pass, each participant rebuilds a model of its own size
    from the global model through its assignments and the next pass begins (``restart="own_size"``,
    the paper's choice, which keeps the global model small); with ``restart="global"`` every
    participant instead continues from the whole global model (it adopts the global widths), which
    keeps what the others learnt and, on the non-IID CWRU benchmark, converges higher (see
    ``bench/fedma_quality.py``). Participants' hidden widths may differ (``participant_specs``).
    With ``robust`` set, layers are screened and matched neurons' outliers rejected
    (:mod:`federation.core.robust`); a flagged participant sits out the rest of the pass and rejoins
    the next one from the global model.
    """

    name = "fedma"

    def __init__(
        self,
        *,
        passes: int,
        matching: MatchingSettings = MatchingSettings(),
        robust: RobustSettings | None = None,
        restart: str = "own_size",
        **common,
    ):
        super().__init__(**common)
        if passes < 1:
            raise ValueError("passes must be >= 1")
        if restart not in ("own_size", "global"):
            raise ValueError(f"restart must be 'own_size' or 'global', got {restart!r}")
        self.passes = passes
        self.matching = matching
        self.robust = robust
        self.restart = restart

    def _options(self) -> dict[str, Any]:
        return {
            "passes": self.passes,
            "matching": self.matching.to_dict(),
            "robust": None if self.robust is None else self.robust.to_dict(),
            "restart": self.restart,
        }

    def start(self, participants, spec, *, participant_specs=None, initial=None) -> FedMAState:
        if not participants:
            raise ValueError("no participants")
        specs = {p: (participant_specs or {}).get(p, spec) for p in participants}
        for participant, own in specs.items():
            if type(own) is not type(spec) or own.with_hidden_widths(spec.hidden_widths) != spec:
                raise ValueError(f"{participant!r}: only hidden widths may differ from the task's spec")
        models = {}
        for participant, own in specs.items():
            if initial is not None and own == spec:
                models[participant] = copy_weights(initial)
            else:
                models[participant] = initial_weights(own, self.seed)
        return FedMAState(
            participants=tuple(participants),
            step=0,
            global_spec=None,
            global_weights=None,
            active=tuple(participants),
            participant_specs=specs,
            working_models=models,
        )

    def is_finished(self, state: TaskState) -> bool:
        return state.pass_index >= self.passes

    def instructions(self, state: FedMAState) -> dict[str, ClientInstruction]:
        if self.is_finished(state):
            return {}
        self._check_privacy_budget(state)
        global_widths = [weight.shape[0] for weight, _ in state.partial_global]
        instructions = {}
        for participant in state.active:
            own = state.participant_specs[participant]
            widths = global_widths + list(own.hidden_widths[len(global_widths) :])
            instructions[participant] = self._instruction(
                state, participant, own.with_hidden_widths(widths),
                state.working_models[participant], state.layer_index,
            )
        return instructions

    def aggregate(self, state: FedMAState, updates: Mapping[str, ClientUpdate]) -> FedMAState:
        answers = self._answers(state, updates)
        participants = [update.participant for _, update in answers]
        models = {update.participant: update.full_weights(instruction) for instruction, update in answers}
        layer = state.layer_index
        flags: dict[str, str] = {}
        if self.robust is None:
            self._require_finite(answers)
        else:
            norms = [update_norm(instruction.weights[layer:], update.layers) for instruction, update in answers]
            flags.update({participants[i]: why for i, why in flag_large_norms(norms, self.robust.norm_factor).items()})
        kept = [p for p in participants if p not in flags]
        if not kept:
            raise ValueError(f"every update of step {state.step} was rejected")
        if layer == len(models[kept[0]]) - 1:
            return self._finish_pass(state, models, kept, answers, flags)
        match, kept, global_rows = self._match_layer(models, kept, layer, flags)
        global_units = global_rows.shape[0]
        global_layer = rows_to_layer(global_rows, models[kept[0]][layer][0].shape[1:])
        partial = list(state.partial_global) + [global_layer]
        working, assignments = {}, {}
        for participant, assignment in zip(kept, match.assignments):
            model = models[participant]
            next_weight, next_bias = model[layer + 1]
            working[participant] = (
                partial
                + [(remap_input_units(next_weight, assignment, global_units), next_bias)]
                + list(model[layer + 2 :])
            )
            assignments[participant] = tuple(state.assignments.get(participant, ())) + (assignment,)
        return replace(
            state,
            step=state.step + 1,
            layer_index=layer + 1,
            active=tuple(kept),
            working_models=working,
            partial_global=partial,
            assignments=assignments,
            flags=state.flags + tuple(Flag(state.step, p, why) for p, why in flags.items()),
        )

    def _match_layer(
        self, models: Mapping[str, NetworkWeights], kept: list[str], layer: int, flags: dict[str, str]
    ) -> tuple[LayerMatch, list[str], np.ndarray]:
        rows = {p: layer_rows(*models[p][layer]) for p in kept}
        match = match_layer([rows[p] for p in kept], **self.matching.as_keywords())
        if self.robust is None:
            return match, kept, match.global_layer
        disagreeing = flag_low_agreement(match, self.robust.min_agreement_ratio)
        if disagreeing and len(disagreeing) < len(kept):
            flags.update({kept[i]: why for i, why in disagreeing.items()})
            kept = [p for i, p in enumerate(kept) if i not in disagreeing]
            match = match_layer([rows[p] for p in kept], **self.matching.as_keywords())
        rejection = reject_neuron_outliers([rows[p] for p in kept], match, self.robust, mu0=self.matching.mu0)
        flags.update({kept[i]: why for i, why in rejection.flagged.items()})
        return match, kept, rejection.global_layer

    def _finish_pass(self, state, models, kept, answers, flags) -> FedMAState:
        layer = state.layer_index
        class_counts = {update.participant: update.class_counts for _, update in answers}
        layers = [models[p][layer] for p in kept]
        counts = [class_counts[p] for p in kept]
        if self.robust is not None:
            counts, rejected = reject_output_outliers(layers, counts, self.robust)
            flags.update({kept[i]: why for i, why in rejected.items()})
        output = combine_output_layers(layers, counts)
        global_weights = list(state.partial_global) + [output]
        any_spec = next(iter(state.participant_specs.values()))
        global_spec = _spec_with_widths_of(any_spec, global_weights)
        specs, working = {}, {}
        for participant in state.participants:
            if participant in kept and self.restart == "own_size":
                specs[participant] = state.participant_specs[participant]
                working[participant] = client_model_from_global(global_weights, state.assignments[participant])
            else:
                # Restart from the whole global model (also for anyone who sat out part of the pass).
                specs[participant] = global_spec
                working[participant] = copy_weights(global_weights)
        return replace(
            state,
            step=state.step + 1,
            pass_index=state.pass_index + 1,
            layer_index=0,
            active=state.participants,
            global_spec=global_spec,
            global_weights=global_weights,
            participant_specs=specs,
            working_models=working,
            partial_global=[],
            assignments={},
            flags=state.flags + tuple(Flag(state.step, p, why) for p, why in flags.items()),
        )


class OneShotMatching(Strategy):
    """One step: every participant trains its own model; the server matches all hidden layers at once
    without retraining (:func:`federation.core.fedma.match_network_layers`), output layer
    class-share-weighted. For evaluation against FedMA's layer-wise retraining."""

    name = "one_shot_matching"

    def __init__(self, *, matching: MatchingSettings = MatchingSettings(), **common):
        super().__init__(**common)
        self.matching = matching

    def _options(self) -> dict[str, Any]:
        return {"matching": self.matching.to_dict()}

    def start(self, participants, spec, *, participant_specs=None, initial=None) -> FedMAState:
        return FedMA(passes=1, training=self.training, seed=self.seed).start(
            participants, spec, participant_specs=participant_specs, initial=initial
        )

    def instructions(self, state: FedMAState) -> dict[str, ClientInstruction]:
        if self.is_finished(state):
            return {}
        self._check_privacy_budget(state)
        return {
            p: self._instruction(state, p, state.participant_specs[p], state.working_models[p], 0)
            for p in state.participants
        }

    def aggregate(self, state: FedMAState, updates: Mapping[str, ClientUpdate]) -> FedMAState:
        answers = self._answers(state, updates)
        matched = match_network_layers(
            [update.full_weights(instruction) for instruction, update in answers],
            class_counts=[update.class_counts for _, update in answers],
            settings=self.matching,
        )
        any_spec = next(iter(state.participant_specs.values()))
        return replace(
            state,
            step=state.step + 1,
            pass_index=1,
            global_spec=_spec_with_widths_of(any_spec, matched.weights),
            global_weights=matched.weights,
        )

    def is_finished(self, state: TaskState) -> bool:
        return state.step >= 1


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (FedAvg, RobustFedAvg, FedMA, OneShotMatching)
}


def strategy_from_dict(data: Mapping[str, Any]) -> Strategy:
    """Rebuild a strategy from :meth:`Strategy.to_dict` output (e.g. a task's stored configuration)."""
    options = dict(data)
    try:
        cls = STRATEGIES[options.pop("name")]
    except KeyError as exc:
        raise ValueError(f"unknown strategy {data.get('name')!r}; known: {sorted(STRATEGIES)}") from exc
    if "training" in options:
        options["training"] = TrainingConfig.from_dict(options["training"])
    if options.get("privacy") is not None:
        options["privacy"] = PrivacySettings.from_dict(options["privacy"])
    if "matching" in options:
        options["matching"] = MatchingSettings.from_dict(options["matching"])
    if options.get("robust") is not None:
        options["robust"] = RobustSettings.from_dict(options["robust"])
    return cls(**options)
