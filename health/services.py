"""Write-side services of press health: batch analysis, baselines, thresholds, alarms (each change audited
in its own transaction).

How a batch becomes health (``batch_analyze``, run by the task on the enterprise's queue):

1. Each vibration channel of the batch gets a run, keyed by ``(batch, channel)``; a run already done
   or failed is never redone, so a redelivered task is a no-op.
2. The channel is analysed by the core (``health.analysis``) with its component's fault frequencies,
   against the healthy baseline of its operating condition when that is ready. While the condition is
   still learning, the first ``HEALTH_BASELINE_BATCHES`` batches without fault evidence become its
   members; the batch that completes them fits the baseline (the core's ``HealthyBaseline``), the
   members' own health indices are computed against it, and their window indices seed the condition's
   adaptive threshold monitor.
3. Level: the run's index z goes through the condition's ``ThresholdMonitor`` (persistence,
   hysteresis, EWMA/CUSUM). The decided level is the monitor's, raised to the batch's own verdict when a
   fault frequency stands out in the SES: a bearing's line family cannot be faked by an isolated shock,
   so evidence of a named fault needs no persistence. Until the monitor has its minimum history the
   batch's own verdict is used.
4. A rise of a channel's level (from its previous batch) opens an alarm, or raises the level of the
   channel's unresolved alarm; the press's state (level, trend) is updated.

Everything a batch changes is computed first (numeric work, reading files) and then written in one
transaction under the press's ``PressHealthState`` row lock. If the press's baselines changed in the
meantime (another batch, a reset, an override: ``version`` moved), the plan is recomputed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from audit.services import record
from devices.models import Channel, Component, Press, SensorBatch
from devices.services import batch_samples_for_analysis
from portal.celery import participant_queue

from . import conf
from .analysis import (
    ChannelSetup,
    HealthyRecord,
    analyze_channel,
    finite_json,
    fit_baseline,
    has_fault_evidence,
    result_fields,
    window_index_z,
)
from .conditions import Condition, operating_condition
from .core.advice import maintenance_advice
from .core.baseline import HealthyBaseline
from .core.faults import BearingGeometry
from .core.thresholds import ThresholdConfig, ThresholdMonitor
from .models import HealthAlarm, HealthBaseline, HealthRun, HealthRunChart, PressHealthState

logger = logging.getLogger(__name__)

SKIPPED_CHANNEL_KINDS = {Channel.Kind.CURRENT, Channel.Kind.PRESSURE, Channel.Kind.FORCE, Channel.Kind.TRIGGER}
BEARING_KINDS = {Component.Kind.MAIN_BEARING, Component.Kind.CRANK_BEARING}
MAX_PLAN_ATTEMPTS = 5


# --- Enqueueing -------------------------------------------------------------------------------------

def batch_analysis_enqueue(*, batch: SensorBatch) -> None:
    """Queue the analysis of an accepted batch on its enterprise's own queue, after the current
    transaction commits (at once when there is none). The task takes the id only."""
    from .tasks import analyze_batch

    queue = participant_queue(batch.organization.slug)
    batch_id = batch.pk
    # robust: a broker that is down must not turn an upload that committed into an error page; the batch
    # then stays "queued" (logged) and ``manage.py health_analyze_pending`` queues it again
    transaction.on_commit(lambda: analyze_batch.apply_async(args=[batch_id], queue=queue), robust=True)


# --- Channel set-up ---------------------------------------------------------------------------------

def analysed_channels(batch: SensorBatch, channels_by_name: dict[str, Channel]) -> list[str]:
    """The batch's channels that carry vibration (a channel the press does not declare counts as one)."""
    return [name for name in batch.channel_names
            if name not in channels_by_name or channels_by_name[name].kind not in SKIPPED_CHANNEL_KINDS]


def _component_for(channel: Channel | None, components: list[Component]) -> Component | None:
    """The component whose fault frequencies a channel is searched for: the channel's own, else the
    press's only bearing (or, without bearings, its only gear)."""
    if channel is not None and channel.component_id is not None:
        return next((c for c in components if c.pk == channel.component_id), None)
    bearings = [c for c in components if c.kind in BEARING_KINDS and c.ball_count]
    if len(bearings) == 1:
        return bearings[0]
    gears = [c for c in components if c.kind == Component.Kind.GEAR and c.gear_teeth]
    return gears[0] if not bearings and len(gears) == 1 else None


def channel_setup(*, batch: SensorBatch, channel: Channel | None, component: Component | None,
                  thresholds: ThresholdConfig) -> ChannelSetup:
    """Fault-frequency inputs of one channel: the shaft frequency from the file's shaft speed (CWRU) or
    from the stroke rate x the component's shaft revolutions per stroke, and its bearing / gear geometry."""
    shaft_hz = None
    if batch.shaft_rpm:
        shaft_hz = batch.shaft_rpm / 60.0
    elif batch.stroke_rate_spm:
        revolutions = float(component.shaft_revolutions_per_stroke) if component is not None else 1.0
        shaft_hz = batch.stroke_rate_spm / 60.0 * revolutions
    if shaft_hz is not None and not shaft_hz > 0:
        shaft_hz = None
    bearing = gear_teeth = None
    if component is not None and shaft_hz is not None:
        if component.kind in BEARING_KINDS and component.ball_count and component.ball_diameter_mm \
                and component.pitch_diameter_mm:
            bearing = BearingGeometry(int(component.ball_count), float(component.ball_diameter_mm),
                                      float(component.pitch_diameter_mm), float(component.contact_angle_deg or 0),
                                      name=component.name)
        elif component.kind == Component.Kind.GEAR and component.gear_teeth:
            gear_teeth = int(component.gear_teeth)
    iso_channel = (ISO_VELOCITY_UNITS.get(channel.unit) if channel is not None and channel.kind == Channel.Kind.VELOCITY
                   else None)
    return ChannelSetup(sampling_rate_hz=float(batch.sampling_rate_hz), shaft_hz=shaft_hz, bearing=bearing,
                        gear_teeth=gear_teeth, stroke_rate_spm=batch.stroke_rate_spm, iso_channel=iso_channel,
                        kurtogram_level=conf.kurtogram_level(), thresholds=thresholds)


#: Velocity channels get an ISO 10816-3 zone whatever their unit: the core scales them to mm/s.
ISO_VELOCITY_UNITS = {"mm/s": "velocity_mm_s", "m/s": "velocity_m_s", "in/s": "velocity_in_s"}


def _condition(batch: SensorBatch) -> Condition:
    return operating_condition(sampling_rate_hz=batch.sampling_rate_hz, stroke_rate_spm=batch.stroke_rate_spm,
                               load_percent=batch.load_percent, stroke_band_spm=conf.stroke_rate_band_spm(),
                               load_band_percent=conf.load_band_percent())


class _Samples:
    """Reads batch files once per analysis (members of a baseline are read for its fit)."""

    def __init__(self):
        self._cache: dict[int, tuple[np.ndarray, dict[str, int]] | Exception] = {}

    def of(self, batch: SensorBatch) -> tuple[np.ndarray, dict[str, int]]:
        if batch.pk not in self._cache:
            try:
                samples, names = batch_samples_for_analysis(batch)
                self._cache[batch.pk] = (samples, {name: i for i, name in enumerate(names)})
            except Exception as exc:  # a missing or corrupt file is this batch's failure, not the worker's
                logger.warning("cannot read batch %s: %s", batch.pk, exc, exc_info=True)
                self._cache[batch.pk] = exc
        found = self._cache[batch.pk]
        if isinstance(found, Exception):
            raise _UnreadableBatch(_("The stored batch file could not be read: %(error)s") % {"error": found})
        return found

    def channel(self, batch: SensorBatch, name: str) -> np.ndarray:
        samples, index = self.of(batch)
        if name not in index:
            raise _UnreadableBatch(_("Channel %(name)s is missing from the stored batch file.") % {"name": name})
        return samples[:, index[name]]

    def trigger(self, batch: SensorBatch, trigger_name: str | None) -> np.ndarray | None:
        if trigger_name is None:
            return None
        samples, index = self.of(batch)
        return samples[:, index[trigger_name]] if trigger_name in index else None


class _UnreadableBatch(Exception):
    pass


class _StalePlan(Exception):
    pass


# --- Fitting a baseline -----------------------------------------------------------------------------

@dataclass
class _Fit:
    baseline: HealthyBaseline
    member_results: dict[int, object]  # batch id -> AnalysisResult against the fitted baseline
    seed_z: list[float]


def _fit_from_members(*, members: list[tuple[SensorBatch, ChannelSetup]], channel_name: str,
                      trigger_name: str | None, samples: _Samples, current: HealthyRecord | None = None) -> _Fit:
    """Fit the condition's baseline from its member batches (and ``current``, the batch that completes
    them); analyse every member against it, whose window indices seed the threshold monitor.
    Raises ValueError when there are too few healthy windows yet."""
    healthy, readable = [], []
    for member, member_setup in members:
        try:
            healthy.append(HealthyRecord(samples.channel(member, channel_name), member_setup,
                                         samples.trigger(member, trigger_name)))
            readable.append((member, member_setup))
        except _UnreadableBatch:
            continue
    if current is not None:
        healthy.append(current)
    fitted = fit_baseline(healthy)
    member_results, seed_z = {}, []
    for (member, _setup), healthy_record in zip(readable, healthy):
        member_result = analyze_channel(healthy_record.samples, healthy_record.setup, baseline=fitted,
                                        trigger=healthy_record.trigger)
        member_results[member.pk] = member_result
        seed_z += window_index_z(member_result)
    return _Fit(baseline=fitted, member_results=member_results, seed_z=seed_z)


def _seeded_monitor(config: ThresholdConfig, seed_z: list[float]) -> dict:
    monitor = ThresholdMonitor(config)
    monitor.seed_baseline([z for z in seed_z if np.isfinite(z)])
    return monitor.to_dict()


def _apply_fit(*, baseline: HealthBaseline, fit: _Fit, now) -> list[HealthRun]:
    """Store a fitted baseline and its seeded monitor; give the member runs their indices against it."""
    baseline.baseline = finite_json(fit.baseline.to_dict())
    baseline.status = HealthBaseline.Status.READY
    baseline.fitted_at = now
    baseline.monitor = _seeded_monitor(ThresholdConfig.from_dict(baseline.thresholds), fit.seed_z)
    baseline.save()
    members = list(baseline.runs.filter(baseline_member=True, batch_id__in=list(fit.member_results)))
    for run in members:
        member_result = fit.member_results[run.batch_id]
        run.health_index = finite_json(member_result.health_index)
        run.health_index_z = finite_json(member_result.health_index_z)
    HealthRun.objects.bulk_update(members, ["health_index", "health_index_z"])
    return members


def _baseline_summary(baseline: HealthBaseline) -> dict:
    return {"status": baseline.status, "generation": baseline.generation, "baseline": baseline.baseline,
            "thresholds": baseline.thresholds,
            "members": sorted(baseline.runs.filter(baseline_member=True).values_list("batch_id", flat=True))}


# --- Analysis of a batch ----------------------------------------------------------------------------

@dataclass
class _ChannelPlan:
    name: str
    channel: Channel | None
    component: Component | None
    setup: ChannelSetup
    condition: Condition
    baseline: dict | None  # the ready HealthyBaseline as saved
    members: list[tuple[SensorBatch, ChannelSetup]] = field(default_factory=list)
    fit_when_healthy: bool = False


@dataclass
class _Plan:
    version: int
    trigger_name: str | None
    channels: list[_ChannelPlan]


@dataclass
class _Outcome:
    plan: _ChannelPlan
    result: object = None
    error: str = ""
    fit: _Fit | None = None
    fit_note: str = ""


def _make_plan(batch: SensorBatch, names: list[str], channels_by_name: dict[str, Channel]) -> _Plan:
    press = batch.press
    state = PressHealthState.objects.filter(press=press).first()
    components = list(press.components.all())
    trigger_name = next((name for name in batch.channel_names if name in channels_by_name
                         and channels_by_name[name].kind == Channel.Kind.TRIGGER), None)
    baselines = {(b.channel_name, b.condition_key): b for b in HealthBaseline.objects.filter(press=press)}
    condition = _condition(batch)
    plans = []
    for name in names:
        channel = channels_by_name.get(name)
        component = _component_for(channel, components)
        baseline = baselines.get((name, condition.key))
        thresholds = (ThresholdConfig.from_dict(baseline.thresholds) if baseline is not None
                      else conf.default_thresholds())
        plan = _ChannelPlan(name=name, channel=channel, component=component, condition=condition, baseline=None,
                            setup=channel_setup(batch=batch, channel=channel, component=component, thresholds=thresholds))
        if baseline is not None and baseline.status == HealthBaseline.Status.READY:
            plan.baseline = baseline.baseline
        else:
            member_runs = [] if baseline is None else list(
                baseline.runs.filter(baseline_member=True, status=HealthRun.Status.DONE).exclude(batch=batch)
                .select_related("batch").order_by("recorded_at"))
            plan.members = [(run.batch, channel_setup(batch=run.batch, channel=channel, component=component,
                                                      thresholds=thresholds)) for run in member_runs]
            target = baseline.target_batches if baseline is not None else conf.baseline_batches()
            plan.fit_when_healthy = len(plan.members) + 1 >= target
        plans.append(plan)
    return _Plan(version=state.version if state is not None else 0, trigger_name=trigger_name, channels=plans)


def _compute(batch: SensorBatch, plan: _Plan, on_progress) -> list[_Outcome]:
    samples = _Samples()
    outcomes = []
    for done, channel_plan in enumerate(plan.channels):
        outcome = _Outcome(plan=channel_plan)
        try:
            x = samples.channel(batch, channel_plan.name)
            trigger = samples.trigger(batch, plan.trigger_name)
            if channel_plan.baseline is not None:
                outcome.result = analyze_channel(x, channel_plan.setup, trigger=trigger,
                                                 baseline=HealthyBaseline.from_dict(channel_plan.baseline))
            else:
                outcome.result = analyze_channel(x, channel_plan.setup, trigger=trigger)
                if channel_plan.fit_when_healthy and outcome.result.level == 0:
                    try:
                        outcome.fit = _fit_from_members(
                            members=channel_plan.members, channel_name=channel_plan.name,
                            trigger_name=plan.trigger_name, samples=samples,
                            current=HealthyRecord(x, channel_plan.setup, trigger))
                        outcome.result = analyze_channel(x, channel_plan.setup, trigger=trigger,
                                                         baseline=outcome.fit.baseline)
                        outcome.fit.seed_z += window_index_z(outcome.result)
                    except ValueError as exc:
                        outcome.fit = None
                        outcome.fit_note = _("Baseline not fitted yet: %(reason)s") % {"reason": exc}
        except _UnreadableBatch as exc:
            outcome.error = str(exc)
        except ValueError as exc:  # the core's SignalError and inconsistent inputs: a clear, final failure
            outcome.error = _("The signal cannot be analysed: %(reason)s") % {"reason": exc}
        outcomes.append(outcome)
        on_progress(channel_plan.name, int(100 * (done + 1) / max(1, len(plan.channels))))
    return outcomes


def _lock_state(press: Press) -> PressHealthState:
    PressHealthState.objects.get_or_create(press=press, defaults={"organization_id": press.organization_id})
    return PressHealthState.objects.select_for_update().get(press=press)


def _run_advice_key(run: HealthRun) -> str:
    """The maintenance advice for the run's decided level (the core's advice is for its own verdict)."""
    if not run.level:
        return maintenance_advice(None, None, 0).key
    top = run.top_fault
    if top is not None:
        return maintenance_advice(top["component"], top["fault"], run.level).key
    if run.iso_zone and run.iso_zone.get("level") == run.level:
        return maintenance_advice("iso", "velocity", run.level).key
    return maintenance_advice("general", "impulsive", run.level).key


def _decide_level(run: HealthRun, baseline: HealthBaseline, result) -> None:
    """Set ``run.level`` (and ``threshold_decision``) from the condition's monitor and the fault evidence."""
    run.threshold_decision = None
    run.level = run.batch_level
    if baseline.monitor is None or run.health_index_z is None or run.baseline_member:
        return
    monitor = ThresholdMonitor.from_dict(baseline.monitor)
    decision = monitor.update(run.health_index_z)
    baseline.monitor = finite_json(monitor.to_dict())
    run.threshold_decision = finite_json(decision.to_dict())
    if not decision.learning:
        evidence_level = run.batch_level if has_fault_evidence(result) else 0
        run.level = max(decision.level, evidence_level)


def _commit(batch: SensorBatch, plan: _Plan, outcomes: list[_Outcome]) -> list[HealthRun]:
    press, organization = batch.press, batch.organization
    state = _lock_state(press)
    if state.version != plan.version:
        raise _StalePlan
    runs = {run.channel_name: run for run in HealthRun.objects.select_for_update().filter(batch=batch)}
    if outcomes and all(o.plan.name in runs and runs[o.plan.name].is_finished for o in outcomes):
        return sorted(runs.values(), key=lambda r: r.channel_name)  # finished by another delivery meanwhile
    now = timezone.now()
    actor = f"worker:{organization.slug}"
    finished: list[HealthRun] = []
    alarm_raised = False
    for outcome in outcomes:
        channel_plan = outcome.plan
        condition = channel_plan.condition
        run = runs.get(channel_plan.name) or HealthRun(batch=batch, channel_name=channel_plan.name)
        run.press, run.organization, run.recorded_at = press, organization, batch.started_at
        run.component = channel_plan.component
        run.component_name = channel_plan.component.name if channel_plan.component else ""
        run.shaft_hz = channel_plan.setup.shaft_hz
        run.progress, run.finished_at = 100, now
        run.started_at = run.started_at or now
        if outcome.error:
            run.status, run.error, run.level, run.batch_level = HealthRun.Status.FAILED, outcome.error, None, None
            run.save()
            finished.append(run)
            continue
        baseline, _created = HealthBaseline.objects.select_for_update().get_or_create(
            press=press, channel_name=channel_plan.name, condition_key=condition.key, defaults={
                "organization": organization, "sampling_rate_hz": condition.sampling_rate_hz,
                "stroke_rate_low_spm": condition.stroke_rate_band[0] if condition.stroke_rate_band else None,
                "stroke_rate_high_spm": condition.stroke_rate_band[1] if condition.stroke_rate_band else None,
                "load_low_percent": condition.load_band[0] if condition.load_band else None,
                "load_high_percent": condition.load_band[1] if condition.load_band else None,
                "target_batches": conf.baseline_batches(), "thresholds": conf.default_thresholds().to_dict()})
        run.baseline = baseline
        fields, chart = result_fields(outcome.result)
        for name, value in fields.items():
            setattr(run, name, value)
        if outcome.fit_note:
            run.notes = run.notes + [outcome.fit_note]
        run.status, run.error = HealthRun.Status.DONE, ""
        if outcome.fit is not None or (baseline.status == HealthBaseline.Status.LEARNING and run.batch_level == 0):
            run.baseline_member = True
        elif baseline.status == HealthBaseline.Status.LEARNING:
            run.notes = run.notes + [_("Not used for the baseline: the batch shows fault evidence.")]
        _decide_level(run, baseline, outcome.result)
        run.advice_key = _run_advice_key(run)
        run.save()
        HealthRunChart.objects.update_or_create(run=run, defaults=chart)
        if outcome.fit is not None:
            _apply_fit(baseline=baseline, fit=outcome.fit, now=now)
            record(actor=actor, action="health.baseline_fit", obj=baseline, organization=organization,
                   after=_baseline_summary(baseline),
                   payload={"channel": baseline.channel_name, "condition": baseline.condition_key,
                            "batch": batch.pk, "n_windows": outcome.fit.baseline.n_windows})
        else:
            baseline.save()
        finished.append(run)
        alarm_raised = (_raise_alarm_on_rise(run=run, actor=actor, now=now) is not None) or alarm_raised
    _update_state(state=state, batch=batch)
    _after_runs(press=press, runs=finished, alarm_raised=alarm_raised)
    record(actor=actor, action="health.analyze", obj=batch, organization=organization,
           after={run.channel_name: {"status": run.status, "level": run.level, "health_index_z": run.health_index_z}
                  for run in finished},
           payload={"press": press.pk, "runs": len(finished),
                    "failed": [run.channel_name for run in finished if run.status == HealthRun.Status.FAILED],
                    "level": max((run.level or 0 for run in finished), default=0)})
    return sorted(finished, key=lambda r: r.channel_name)


def _after_runs(*, press: Press, runs: list[HealthRun], alarm_raised: bool) -> None:
    """Tell the apps that read health results, inside this transaction (their messages leave on commit):
    the federation app scores each finished run with the active models the enterprise received, and
    the lending app reviews the facilities the press secures when an alarm was raised or rose."""
    from federation.services import applicable_versions, prediction_enqueue_for_health_run
    from lending.services import facility_reviews_for_press

    done = [run for run in runs if run.status == HealthRun.Status.DONE]
    if done and applicable_versions(press):
        for run in done:
            prediction_enqueue_for_health_run(run_id=run.pk)
    if alarm_raised:
        facility_reviews_for_press(press.pk, "health_alarm")


def _mark_running(batch: SensorBatch, names: list[str]) -> None:
    """Progress only (like a verification's counter): not a state change worth an audit event."""
    now = timezone.now()
    for name in names:
        try:
            with transaction.atomic():
                updated = HealthRun.objects.filter(batch=batch, channel_name=name).exclude(
                    status__in=[HealthRun.Status.DONE, HealthRun.Status.FAILED]).update(
                    status=HealthRun.Status.RUNNING, progress=0, started_at=now)
                if not updated and not HealthRun.objects.filter(batch=batch, channel_name=name).exists():
                    HealthRun.objects.create(batch=batch, press=batch.press, organization=batch.organization,
                                             channel_name=name, recorded_at=batch.started_at,
                                             status=HealthRun.Status.RUNNING, started_at=now)
        except IntegrityError:
            continue  # another delivery of the same task created it a moment ago


def batch_analyze(*, batch_id: int) -> list[HealthRun]:
    """Analyse every vibration channel of a batch (what the Celery task runs; the demo seeder calls it
    directly). Idempotent: a batch whose runs are all finished is left as it is."""
    batch = SensorBatch.objects.select_related("press", "organization").filter(pk=batch_id).first()
    if batch is None:
        return []
    channels_by_name = {c.name: c for c in batch.press.channels.select_related("component")}
    names = analysed_channels(batch, channels_by_name)
    existing = {run.channel_name: run for run in HealthRun.objects.filter(batch=batch)}
    if all(name in existing and existing[name].is_finished for name in names):
        return [existing[name] for name in sorted(names)]
    _mark_running(batch, [name for name in names if not (name in existing and existing[name].is_finished)])

    def progress(name: str, percent: int) -> None:
        HealthRun.objects.filter(batch=batch, channel_name=name, status=HealthRun.Status.RUNNING).update(
            progress=min(percent, 99))

    for _attempt in range(MAX_PLAN_ATTEMPTS):
        finished = {run.channel_name: run for run in HealthRun.objects.filter(batch=batch) if run.is_finished}
        if all(name in finished for name in names):
            return [finished[name] for name in sorted(names)]  # another delivery finished it meanwhile
        plan = _make_plan(batch, names, channels_by_name)
        outcomes = _compute(batch, plan, progress)
        try:
            with transaction.atomic():
                return _commit(batch, plan, outcomes)
        except _StalePlan:
            continue
    raise RuntimeError(f"the baselines of press {batch.press_id} kept changing while batch {batch.pk} was analysed")


def _recent_trend(press_id: int) -> list:
    """The last batches of the press as [iso time, largest channel z or None, highest level]."""
    points: dict[int, list] = {}
    recent = (HealthRun.objects.filter(press_id=press_id, status=HealthRun.Status.DONE).order_by("-recorded_at", "-pk")
              .values_list("batch_id", "recorded_at", "health_index_z", "level"))
    for batch_id, recorded_at, z, level in recent[: 8 * conf.trend_points()]:
        if batch_id not in points and len(points) >= conf.trend_points():
            break
        point = points.setdefault(batch_id, [recorded_at.isoformat(), None, 0])
        if z is not None:
            point[1] = z if point[1] is None else max(point[1], z)
        point[2] = max(point[2], level or 0)
    return sorted(points.values(), key=lambda p: p[0])


def _update_state(*, state: PressHealthState, batch: SensorBatch) -> None:
    """The press's current level (the highest over its channels' latest runs) and its trend."""
    latest: list[HealthRun] = []
    channel_names = set(HealthBaseline.objects.filter(press_id=state.press_id).values_list("channel_name", flat=True))
    for name in sorted(channel_names):
        run = (HealthRun.objects.filter(press_id=state.press_id, channel_name=name, status=HealthRun.Status.DONE)
               .order_by("-recorded_at", "-pk").only("level", "health_index_z").first())
        if run is not None:
            latest.append(run)
    state.level = max((run.level or 0 for run in latest), default=0)
    zs = [run.health_index_z for run in latest if run.health_index_z is not None]
    state.health_index_z = max(zs) if zs else None
    if state.last_recorded_at is None or batch.started_at >= state.last_recorded_at:
        state.last_batch, state.last_recorded_at = batch, batch.started_at
    state.trend = _recent_trend(state.press_id)
    state.version += 1
    state.save()


# --- Alarms -----------------------------------------------------------------------------------------

def _alarm_state(alarm: HealthAlarm) -> dict:
    return {"status": alarm.status, "level": alarm.level, "component": alarm.component, "fault": alarm.fault,
            "fault_hz": alarm.fault_hz, "advice_key": alarm.advice_key, "run": alarm.run_id,
            "acknowledged_by": alarm.acknowledged_by.get_username() if alarm.acknowledged_by_id else None,
            "acknowledge_comment": alarm.acknowledge_comment,
            "resolved_by": alarm.resolved_by.get_username() if alarm.resolved_by_id else None,
            "resolve_comment": alarm.resolve_comment}


def _previous_level(run: HealthRun) -> int:
    previous = (HealthRun.objects.filter(press_id=run.press_id, channel_name=run.channel_name,
                                         status=HealthRun.Status.DONE, recorded_at__lt=run.recorded_at)
                .exclude(pk=run.pk).order_by("-recorded_at", "-pk").values_list("level", flat=True).first())
    return previous or 0


def _raise_alarm_on_rise(*, run: HealthRun, actor: str, now) -> HealthAlarm | None:
    """Open an alarm when the channel's level rose above Normal, or raise its unresolved alarm's level."""
    level = run.level or 0
    if level == 0 or level <= _previous_level(run):
        return None
    top = run.top_fault
    if top is not None:
        component, fault, label, fault_hz = top["component"], top["fault"], top.get("label", ""), top.get("found_hz")
    else:
        component, fault = run.advice_key.split(".")[:2]
        label, fault_hz = "", None
    values = {"level": level, "run": run, "component": component, "fault": fault, "fault_label": label,
              "fault_hz": fault_hz, "advice_key": run.advice_key, "raised_at": now,
              "component_name": run.component_name if component in ("bearing", "gear") else ""}
    alarm = (HealthAlarm.objects.select_for_update().filter(
        press_id=run.press_id, channel_name=run.channel_name, status__in=HealthAlarm.UNRESOLVED).first())
    if alarm is not None:
        if level <= alarm.level:
            return None
        before = _alarm_state(alarm)
        for name, value in values.items():
            setattr(alarm, name, value)
        # a higher level needs a fresh acknowledgement
        alarm.status, alarm.acknowledged_by, alarm.acknowledged_at = HealthAlarm.Status.OPEN, None, None
        alarm.acknowledge_comment, alarm.escalated_at = "", None
        alarm.save()
        record(actor=actor, action="health.alarm_raise", obj=alarm, before=before, after=_alarm_state(alarm),
               payload={"press": run.press_id, "channel": run.channel_name, "level": level, "rise_from": before["level"],
                        "fault": fault, "batch": run.batch_id})
        return alarm
    alarm = HealthAlarm.objects.create(press_id=run.press_id, organization=run.organization,
                                       channel_name=run.channel_name, first_raised_at=now, **values)
    record(actor=actor, action="health.alarm_raise", obj=alarm, after=_alarm_state(alarm),
           payload={"press": run.press_id, "channel": run.channel_name, "level": level, "fault": fault,
                    "batch": run.batch_id})
    return alarm


def _require_manager(actor: User, press: Press) -> None:
    if not actor.has_perm("devices.change_press", press):
        raise PermissionDenied(_("Only the enterprise's managers can do this."))


def _required_comment(comment: str | None) -> str:
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": _("Give a comment: what was checked, decided or done.")})
    return comment[:2000]


@transaction.atomic
def alarm_acknowledge(*, actor: User, alarm: HealthAlarm, comment: str) -> HealthAlarm:
    alarm = HealthAlarm.objects.select_for_update().select_related("press").get(pk=alarm.pk)
    _require_manager(actor, alarm.press)
    comment = _required_comment(comment)
    if alarm.status == HealthAlarm.Status.RESOLVED:
        raise ValidationError(_("The alarm is already resolved."))
    if alarm.status == HealthAlarm.Status.ACKNOWLEDGED:
        raise ValidationError(_("The alarm is already acknowledged."))
    before = _alarm_state(alarm)
    alarm.status, alarm.acknowledged_by, alarm.acknowledged_at = HealthAlarm.Status.ACKNOWLEDGED, actor, timezone.now()
    alarm.acknowledge_comment = comment
    alarm.save()
    record(actor=actor, action="health.alarm_acknowledge", obj=alarm, before=before, after=_alarm_state(alarm),
           payload={"press": alarm.press_id, "comment": comment[:500]})
    return alarm


@transaction.atomic
def alarm_resolve(*, actor: User, alarm: HealthAlarm, comment: str) -> HealthAlarm:
    alarm = HealthAlarm.objects.select_for_update().select_related("press").get(pk=alarm.pk)
    _require_manager(actor, alarm.press)
    comment = _required_comment(comment)
    if alarm.status == HealthAlarm.Status.RESOLVED:
        raise ValidationError(_("The alarm is already resolved."))
    before = _alarm_state(alarm)
    alarm.status, alarm.resolved_by, alarm.resolved_at = HealthAlarm.Status.RESOLVED, actor, timezone.now()
    alarm.resolve_comment = comment
    alarm.save()
    record(actor=actor, action="health.alarm_resolve", obj=alarm, before=before, after=_alarm_state(alarm),
           payload={"press": alarm.press_id, "comment": comment[:500]})
    return alarm


def alarms_escalate(*, now=None, after=None) -> list[HealthAlarm]:
    """Escalate every alarm left unacknowledged for longer than ``after`` (default: the setting), each in
    its own transaction with its audit event, and tell the enterprise's managers by e-mail."""
    now = now or timezone.now()
    after = conf.escalate_after() if after is None else after
    cutoff = now - after
    escalated = []
    for alarm_id in HealthAlarm.objects.filter(status=HealthAlarm.Status.OPEN, raised_at__lte=cutoff).values_list(
            "pk", flat=True):
        with transaction.atomic():
            alarm = (HealthAlarm.objects.select_for_update().select_related("press", "organization")
                     .filter(pk=alarm_id, status=HealthAlarm.Status.OPEN, raised_at__lte=cutoff).first())
            if alarm is None:
                continue  # acknowledged meanwhile
            before = _alarm_state(alarm)
            alarm.status, alarm.escalated_at = HealthAlarm.Status.ESCALATED, now
            alarm.save(update_fields=["status", "escalated_at"])
            overdue_hours = round((now - alarm.raised_at).total_seconds() / 3600, 2)
            record(actor=None, action="health.alarm_escalate", obj=alarm, before=before, after=_alarm_state(alarm),
                   payload={"press": alarm.press_id, "unacknowledged_hours": overdue_hours})
            transaction.on_commit(lambda alarm_id=alarm.pk: _notify_escalation(alarm_id))
            escalated.append(alarm)
    return escalated


def _notify_escalation(alarm_id: int) -> None:
    from django.core.mail import send_mail
    from django.urls import reverse
    from django.utils import translation

    from .labels import advice_text, fault_text, level_label

    alarm = HealthAlarm.objects.select_related("press", "organization").get(pk=alarm_id)
    managers = User.objects.filter(organization_id=alarm.organization_id, role=Role.ENTERPRISE_MANAGER,
                                   is_active=True).exclude(email="")
    for manager in managers:
        with translation.override(manager.language or "en"):
            subject = _("Unacknowledged %(level)s on %(press)s") % {"level": level_label(alarm.level),
                                                                     "press": alarm.press.name}
            body = "\n".join([
                _("The alarm raised at %(time)s has not been acknowledged.") % {"time": alarm.raised_at.isoformat()},
                fault_text(component=alarm.component, fault=alarm.fault, label=alarm.fault_label,
                           frequency_hz=alarm.fault_hz, component_name=alarm.component_name),
                advice_text(alarm.advice_key),
                reverse("health:alarm_detail", args=[alarm.pk]),
            ])
        send_mail(subject, body, None, [manager.email], fail_silently=True)


# --- Baselines and thresholds -----------------------------------------------------------------------

@transaction.atomic
def baseline_reset(*, actor: User, baseline: HealthBaseline, reason: str = "") -> HealthBaseline:
    """Forget a condition's baseline (e.g. after a bearing was replaced): the next healthy batches form a
    new one. Threshold overrides are kept; the monitor starts afresh."""
    _require_manager(actor, baseline.press)
    state = _lock_state(baseline.press)
    baseline = HealthBaseline.objects.select_for_update().get(pk=baseline.pk)
    before = _baseline_summary(baseline)
    baseline.runs.filter(baseline_member=True).update(baseline_member=False)
    baseline.status, baseline.baseline, baseline.monitor, baseline.fitted_at = \
        HealthBaseline.Status.LEARNING, None, None, None
    baseline.generation += 1
    baseline.target_batches = conf.baseline_batches()
    baseline.save()
    state.version += 1
    state.save(update_fields=["version", "updated_at"])
    record(actor=actor, action="health.baseline_reset", obj=baseline, before=before, after=_baseline_summary(baseline),
           payload={"channel": baseline.channel_name, "condition": baseline.condition_key,
                    "reason": (reason or "").strip()[:500]})
    return baseline


@transaction.atomic
def batch_mark_healthy(*, actor: User, batch: SensorBatch) -> list[HealthRun]:
    """Add a batch to the healthy baselines of its channels' conditions; the baselines are refitted on the
    enterprise's worker (it reads the member files)."""
    from .tasks import refit_baseline

    press = batch.press
    _require_manager(actor, press)
    _lock_state(press)
    runs = list(HealthRun.objects.select_for_update().filter(batch=batch, status=HealthRun.Status.DONE,
                                                               baseline__isnull=False))
    if not runs:
        raise ValidationError(_("The batch has no finished analysis to use as a healthy reference."))
    new = [run for run in runs if not run.baseline_member]
    if not new:
        raise ValidationError(_("This batch is already part of the healthy baseline."))
    HealthRun.objects.filter(pk__in=[run.pk for run in new]).update(baseline_member=True)
    PressHealthState.objects.filter(press=press).update(version=F("version") + 1)
    baseline_ids = sorted({run.baseline_id for run in new})
    record(actor=actor, action="health.baseline_mark_healthy", obj=batch, organization=press.organization,
           payload={"press": press.pk, "channels": sorted(run.channel_name for run in new), "baselines": baseline_ids})
    queue = participant_queue(press.organization.slug)
    for baseline_id in baseline_ids:
        transaction.on_commit(lambda baseline_id=baseline_id: refit_baseline.apply_async(args=[baseline_id], queue=queue))
    return new


def baseline_refit(*, baseline_id: int) -> HealthBaseline | None:
    """Fit a condition's baseline from its member batches (after a manager marked batches healthy).
    Returns None when it cannot be fitted yet (too few healthy windows)."""
    for _attempt in range(MAX_PLAN_ATTEMPTS):
        baseline = HealthBaseline.objects.select_related("press", "organization").filter(pk=baseline_id).first()
        if baseline is None:
            return None
        state = PressHealthState.objects.filter(press=baseline.press).first()
        version = state.version if state is not None else 0
        members = list(baseline.runs.filter(baseline_member=True, status=HealthRun.Status.DONE)
                       .select_related("batch").order_by("recorded_at"))
        if not members:
            return None
        press = baseline.press
        channels_by_name = {c.name: c for c in press.channels.select_related("component")}
        channel = channels_by_name.get(baseline.channel_name)
        component = _component_for(channel, list(press.components.all()))
        thresholds = ThresholdConfig.from_dict(baseline.thresholds)
        trigger_name = next((c.name for c in channels_by_name.values() if c.kind == Channel.Kind.TRIGGER), None)
        member_setups = [(run.batch, channel_setup(batch=run.batch, channel=channel, component=component,
                                                   thresholds=thresholds)) for run in members]
        try:
            fit = _fit_from_members(members=member_setups, channel_name=baseline.channel_name,
                                    trigger_name=trigger_name, samples=_Samples())
        except ValueError as exc:
            logger.info("baseline %s not fitted: %s", baseline_id, exc)
            return None
        try:
            with transaction.atomic():
                state = _lock_state(press)
                if state.version != version:
                    raise _StalePlan
                baseline = HealthBaseline.objects.select_for_update().get(pk=baseline_id)
                before = _baseline_summary(baseline)
                _apply_fit(baseline=baseline, fit=fit, now=timezone.now())
                state.version += 1
                state.trend = _recent_trend(press.pk)
                state.save(update_fields=["version", "trend", "updated_at"])
                record(actor=f"worker:{baseline.organization.slug}", action="health.baseline_fit", obj=baseline,
                       before=before, after=_baseline_summary(baseline),
                       payload={"channel": baseline.channel_name, "condition": baseline.condition_key,
                                "members": [member.batch_id for member in members],
                                "n_windows": fit.baseline.n_windows})
                return baseline
        except _StalePlan:
            continue
    raise RuntimeError(f"the baselines of press {baseline.press_id} kept changing while baseline {baseline_id} was fitted")


@transaction.atomic
def thresholds_override(*, actor: User, baseline: HealthBaseline, warning_z: float, alarm_z: float, danger_z: float,
                        reason: str) -> HealthBaseline:
    """Set a condition's Warning / Alarm / Danger thresholds (z units) by hand, with the reason."""
    _require_manager(actor, baseline.press)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for overriding the thresholds.")})
    state = _lock_state(baseline.press)
    baseline = HealthBaseline.objects.select_for_update().get(pk=baseline.pk)
    before = dict(baseline.thresholds)
    try:
        config = ThresholdConfig.from_dict({**baseline.thresholds, "warning_z": float(warning_z),
                                            "alarm_z": float(alarm_z), "danger_z": float(danger_z)})
    except (TypeError, ValueError):
        raise ValidationError(_("Thresholds must be numbers with 0 < warning < alarm < danger.")) from None
    baseline.thresholds = config.to_dict()
    if baseline.monitor is not None:
        baseline.monitor = {**baseline.monitor, "config": config.to_dict()}
    baseline.thresholds_overridden_by, baseline.thresholds_overridden_at = actor, timezone.now()
    baseline.thresholds_override_reason = reason[:500]
    baseline.save()
    state.version += 1
    state.save(update_fields=["version", "updated_at"])
    record(actor=actor, action="health.thresholds_override", obj=baseline, before=before, after=config.to_dict(),
           payload={"channel": baseline.channel_name, "condition": baseline.condition_key, "reason": reason[:500],
                    "warning_z": config.warning_z, "alarm_z": config.alarm_z, "danger_z": config.danger_z})
    return baseline
