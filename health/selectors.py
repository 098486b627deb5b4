"""Read-side queries of press health, scoped by the press's object permissions.

Two scopes: ``health_presses`` (the press's health summary: level and trend; the enterprise's own, or a
lender's with a live health share) and ``detail_presses`` (everything else: runs, spectra, kurtograms,
baselines, alarms; the enterprise's managers and auditors). Anything outside a scope does not exist
for the caller (views answer 404). Chart series are downsampled to ``HEALTH_CHART_MAX_POINTS``.
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from accounts.permissions import objects_for
from devices.models import Press, SensorBatch
from devices.selectors import press_health_list

from . import conf
from .core.indicators import INDICATOR_NAMES
from .downsample import minmax_indices
from .models import HealthAlarm, HealthBaseline, HealthRun


def health_presses(*, user) -> QuerySet[Press]:
    """Presses whose health level and trend ``user`` may see."""
    return press_health_list(user=user)


def detail_presses(*, user) -> QuerySet[Press]:
    """Presses whose detailed health (runs, spectra, baselines, alarms) ``user`` may see."""
    return objects_for(user, "devices.view_press", Press.objects.all())


def fleet(*, user) -> QuerySet[Press]:
    """The caller's fleet: presses with their health state and the number of unresolved alarms."""
    open_alarms = (HealthAlarm.objects.filter(press=OuterRef("pk"), status__in=HealthAlarm.UNRESOLVED)
                   .order_by().values("press").annotate(n=Count("pk")).values("n"))
    return (Press.objects.filter(pk__in=health_presses(user=user).values("pk"))
            .select_related("organization", "health_state")
            .annotate(open_alarm_count=Coalesce(Subquery(open_alarms, output_field=IntegerField()), Value(0)))
            .order_by("organization__name", "name"))


def press_health_get(*, user, pk) -> Press:
    """Raises Press.DoesNotExist outside the caller's health scope."""
    return fleet(user=user).get(pk=pk)


def press_detail_get(*, user, pk) -> Press:
    return fleet(user=user).filter(pk__in=detail_presses(user=user).values("pk")).get(pk=pk)


def may_see_details(*, user, press: Press) -> bool:
    return detail_presses(user=user).filter(pk=press.pk).exists()


def run_list(*, user, press: Press | None = None) -> QuerySet[HealthRun]:
    qs = HealthRun.objects.filter(press__in=detail_presses(user=user).values("pk")).select_related("batch", "press")
    if press is not None:
        qs = qs.filter(press=press)
    return qs.order_by("-recorded_at", "channel_name")


def run_get(*, user, pk) -> HealthRun:
    return run_list(user=user).select_related("baseline").get(pk=pk)


def alarm_list(*, user, press: Press | None = None, unresolved: bool = False) -> QuerySet[HealthAlarm]:
    qs = (HealthAlarm.objects.filter(press__in=detail_presses(user=user).values("pk"))
          .select_related("press", "run", "acknowledged_by", "resolved_by"))
    if press is not None:
        qs = qs.filter(press=press)
    if unresolved:
        qs = qs.filter(status__in=HealthAlarm.UNRESOLVED)
    return qs.order_by("-raised_at")


def alarm_get(*, user, pk) -> HealthAlarm:
    return alarm_list(user=user).get(pk=pk)


def baseline_list(*, user, press: Press | None = None) -> QuerySet[HealthBaseline]:
    qs = (HealthBaseline.objects.filter(press__in=detail_presses(user=user).values("pk"))
          .select_related("press", "thresholds_overridden_by")
          .annotate(member_count=Count("runs", filter=Q(runs__baseline_member=True))))
    if press is not None:
        qs = qs.filter(press=press)
    return qs.order_by("press", "channel_name", "condition_key")


def baseline_get(*, user, pk) -> HealthBaseline:
    return baseline_list(user=user).get(pk=pk)


def batch_health_get(*, user, pk) -> SensorBatch:
    """A batch whose analysis the caller may follow (the batch's own readers)."""
    from devices.selectors import batch_list

    return batch_list(user=user).select_related("press").get(pk=pk)


def batch_analysis_status(*, batch: SensorBatch) -> dict:
    """Queued / running / done / failed, a percentage, and one line per analysed channel."""
    from .services import analysed_channels

    channels = {c.name: c for c in batch.press.channels.all()}
    names = analysed_channels(batch, channels)
    runs = {run.channel_name: run for run in HealthRun.objects.filter(batch=batch).select_related("baseline")}
    rows = []
    for name in names:
        run = runs.get(name)
        rows.append({"channel": name, "run": run})
    statuses = [row["run"].status if row["run"] else HealthRun.Status.QUEUED for row in rows]
    if not names:
        status = "none"
    elif all(s == HealthRun.Status.QUEUED for s in statuses):
        status = HealthRun.Status.QUEUED
    elif any(s in (HealthRun.Status.QUEUED, HealthRun.Status.RUNNING) for s in statuses):
        status = HealthRun.Status.RUNNING
    elif all(s == HealthRun.Status.FAILED for s in statuses):
        status = HealthRun.Status.FAILED
    else:
        status = HealthRun.Status.DONE
    percent = (sum((row["run"].progress if row["run"] else 0) for row in rows) / len(rows)) if rows else 100
    return {"status": status, "percent": int(round(percent)), "rows": rows}


# --- Chart series -----------------------------------------------------------------------------------

def _iso(values) -> list[str]:
    return [value.isoformat() for value in values]


def _kept(n: int, values, cap: int) -> np.ndarray:
    return minmax_indices(np.asarray([np.nan if v is None else v for v in values], dtype=float), cap) if n else \
        np.arange(0)


def press_trend(*, press: Press, cap: int | None = None, since: datetime | None = None,
                until: datetime | None = None) -> dict:
    """The press's health over time, as a lender may see it: per batch the largest channel index z and
    the highest level."""
    cap = cap or conf.chart_max_points()
    runs = HealthRun.objects.filter(press=press, status=HealthRun.Status.DONE)
    if since:
        runs = runs.filter(recorded_at__gte=since)
    if until:
        runs = runs.filter(recorded_at__lte=until)
    rows = list(runs.values_list("batch_id", "recorded_at", "health_index_z", "level").order_by("recorded_at", "batch_id"))
    merged: dict[int, list] = {}
    for batch_id, recorded_at, z, level in rows:
        point = merged.setdefault(batch_id, [recorded_at, None, 0])
        if z is not None:
            point[1] = z if point[1] is None else max(point[1], z)
        point[2] = max(point[2], level or 0)
    points = list(merged.values())
    keep = _kept(len(points), [p[1] for p in points], cap)
    points = [points[i] for i in keep]
    return {"t": _iso(p[0] for p in points), "z": [p[1] for p in points], "level": [p[2] for p in points],
            "n_total": len(merged), "cap": cap}


def press_timeseries(*, press: Press, cap: int | None = None, since: datetime | None = None,
                     until: datetime | None = None) -> dict:
    """Per channel: health index z and level over time (downsampled), the thresholds of its current
    condition, its latest finished run; and the press's alarms as markers."""
    cap = cap or conf.chart_max_points()
    runs = HealthRun.objects.filter(press=press, status=HealthRun.Status.DONE)
    if since:
        runs = runs.filter(recorded_at__gte=since)
    if until:
        runs = runs.filter(recorded_at__lte=until)
    series: dict[str, list] = {}
    for channel, recorded_at, z, index, level, run_id, baseline_id in runs.values_list(
            "channel_name", "recorded_at", "health_index_z", "health_index", "level", "pk", "baseline_id").order_by(
            "channel_name", "recorded_at", "pk"):
        series.setdefault(channel, []).append((recorded_at, z, index, level, run_id, baseline_id))
    baselines = {b.pk: b for b in HealthBaseline.objects.filter(press=press)}
    channels = []
    for name, points in series.items():
        keep = _kept(len(points), [p[1] for p in points], cap)
        kept = [points[i] for i in keep]
        current = baselines.get(points[-1][5])
        thresholds = current.thresholds if current is not None else conf.default_thresholds().to_dict()
        channels.append({
            "name": name, "n_total": len(points), "latest_run": points[-1][4],
            "t": _iso(p[0] for p in kept), "z": [p[1] for p in kept], "index": [p[2] for p in kept],
            "level": [p[3] for p in kept], "run": [p[4] for p in kept],
            "thresholds": {key: thresholds[key] for key in ("warning_z", "alarm_z", "danger_z")},
        })
    latest_alarms = HealthAlarm.objects.filter(press=press).select_related("run").order_by("-raised_at")[:cap]
    alarms = [{"id": alarm.pk, "t": alarm.run.recorded_at.isoformat(), "level": alarm.level, "channel": alarm.channel_name,
               "z": alarm.run.health_index_z, "status": alarm.status, "fault": alarm.fault, "label": alarm.fault_label}
              for alarm in reversed(latest_alarms)]
    return {"press": press.pk, "cap": cap, "channels": channels, "alarms": alarms}


def press_indicator_series(*, press: Press, channel: str | None = None, cap: int | None = None) -> dict:
    """Each indicator's trend (time and cyclic forms) for one channel (default: the first), downsampled
    per series."""
    cap = cap or conf.chart_max_points()
    runs = HealthRun.objects.filter(press=press, status=HealthRun.Status.DONE)
    names = sorted(set(runs.values_list("channel_name", flat=True).order_by()))
    if not names:
        return {"channel": None, "channels": [], "series": [], "cap": cap}
    channel = channel if channel in names else names[0]
    rows = list(runs.filter(channel_name=channel).order_by("recorded_at", "pk").values_list("recorded_at", "indicators"))
    series = []
    for indicator in INDICATOR_NAMES:
        for form in ("time", "cyclic"):
            values = [(indicators.get(indicator) or {}).get(form) for _t, indicators in rows]
            keep = _kept(len(values), values, cap)
            series.append({"indicator": indicator, "form": form, "t": _iso(rows[i][0] for i in keep),
                           "value": [values[i] for i in keep]})
    return {"channel": channel, "channels": names, "series": series, "n_total": len(rows), "cap": cap}


def press_conditions_series(*, press: Press, cap: int | None = None) -> dict:
    """The operating conditions of the press's batches over time (stroke rate, load, shaft speed)."""
    cap = cap or conf.chart_max_points()
    rows = list(SensorBatch.objects.filter(press=press).order_by("started_at", "pk").values_list(
        "started_at", "stroke_rate_spm", "load_percent", "shaft_rpm"))
    keep = _kept(len(rows), [r[1] if r[1] is not None else r[3] for r in rows], cap)
    kept = [rows[i] for i in keep]
    return {"t": _iso(r[0] for r in kept), "stroke_rate_spm": [r[1] for r in kept],
            "load_percent": [r[2] for r in kept], "shaft_rpm": [r[3] for r in kept], "n_total": len(rows), "cap": cap}


def batch_analysis_report(*, batch: SensorBatch) -> dict:
    """``batch_analysis_status`` as plain, translated data (the batch page's polling endpoint)."""
    from .labels import fault_text, level_label

    status = batch_analysis_status(batch=batch)
    labels = dict(HealthRun.Status.choices) | {"none": _("No vibration channel to analyse")}
    runs = []
    for row in status["rows"]:
        run = row["run"]
        top = run.top_fault if run is not None else None
        runs.append({
            "channel": row["channel"], "run": run.pk if run else None,
            "status": run.status if run else HealthRun.Status.QUEUED,
            "status_label": str(labels[run.status if run else HealthRun.Status.QUEUED]),
            "progress": run.progress if run else 0,
            "level": run.level if run else None, "level_name": level_label(run.level) if run else level_label(None),
            "health_index_z": run.health_index_z if run else None,
            "finding": fault_text(component=top["component"], fault=top["fault"], label=top.get("label", ""),
                                  frequency_hz=top.get("found_hz"), component_name=run.component_name)
            if top else "",
            "error": run.error if run else "",
            "baseline_member": bool(run and run.baseline_member),
        })
    return {"batch": batch.pk, "status": status["status"], "status_label": str(labels[status["status"]]),
            "percent": status["percent"], "runs": runs}


def batches_pending_analysis(*, uploaded_before: datetime) -> list[SensorBatch]:
    """Batches uploaded before ``uploaded_before`` whose analysis never finished (the broker was down, or
    the message was lost): a maintenance read for ``manage.py health_analyze_pending``, not scoped to a user."""
    from devices.models import Channel

    from .services import analysed_channels

    finished = HealthRun.objects.filter(batch=OuterRef("pk"), status__in=[HealthRun.Status.DONE, HealthRun.Status.FAILED])
    candidates = (SensorBatch.objects.filter(uploaded_at__lt=uploaded_before).exclude(Exists(finished))
                  .select_related("press", "organization").order_by("uploaded_at"))
    channels: dict[int, dict[str, Channel]] = {}
    pending = []
    for batch in candidates:
        if batch.press_id not in channels:
            channels[batch.press_id] = {c.name: c for c in batch.press.channels.all()}
        if analysed_channels(batch, channels[batch.press_id]):
            pending.append(batch)
    return pending
