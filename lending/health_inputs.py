"""The equipment-health picture of pledged presses, as a lender may see it — the only door from lending into
the health and federation apps.

A lender sees a press's health only while the enterprise shares it (a live ``devices.HealthShare``: not
revoked, not expired). Without one, ``pledged_press_health`` returns ``shared: False`` and nothing else: no
level, no index, no alarm, no prediction. What a lender sees with a share is the summary the share promises
(level, health index and its trend, open alarm, failure risk), never signals or runs.

Health index orientation: the health app's ``health_index_z`` is the press's health index in z units of its
own healthy baseline (0 = as healthy as its baseline; larger = more impulsive, i.e. less healthy). It is
smoothed here with an EWMA (``core.health_overlay.ewma_smooth``) and a move counts only when persistent
(``persistent_health_move``, in the "higher is healthier" orientation, so z is negated).
"""
from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.db.models import Q
from django.utils import timezone

from devices.models import HealthShare, Press

from .core.health_overlay import ewma_smooth, persistent_health_move

ALARM_LEVEL = 2
PERSISTENCE_PERIODS = 3
HISTORY_POINTS = 200


def _health_models():
    return apps.get_model("health", "PressHealthState"), apps.get_model("health", "HealthAlarm")


def _prediction_model():
    """The federation app's Prediction model, when that app provides one (it is optional here)."""
    try:
        return apps.get_model("federation", "Prediction")
    except LookupError:
        return None


def live_share_q(lender_id: int, now=None) -> Q:
    now = now or timezone.now()
    return Q(lender_id=lender_id, revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def lender_sees_press_health(press: Press, lender) -> bool:
    return HealthShare.objects.filter(live_share_q(lender.pk), press=press).exists()


def _not_shared(press: Press) -> dict:
    return {"press_id": press.pk, "press_name": press.name, "shared": False, "health_index_z": None,
            "health_index_z_smoothed": None, "alarm_level": None, "trend": None, "persistent_move": 0,
            "open_alarm": None, "alarm_days": None, "failure_risk": None, "prediction": None,
            "last_reading_at": None, "fingerprint": {"press": press.pk, "shared": False}}


def _failure_prediction(press: Press) -> dict | None:
    """The latest failure-risk prediction of the federated model for the press (its active failure-risk
    version; else the active version of any kind), the highest risk over the channels of that batch."""
    prediction_model = _prediction_model()
    if prediction_model is None:
        return None
    predictions = prediction_model.objects.filter(press=press, version__is_active=True)
    preferred = predictions.filter(version__model_kind="failure_risk")
    latest = (preferred if preferred.exists() else predictions).order_by("-recorded_at", "-created_at").first()
    if latest is None:
        return None
    same_batch = predictions.filter(version_id=latest.version_id, batch_id=latest.batch_id)
    worst = max(same_batch, key=lambda p: p.risk)
    return {"id": worst.pk, "version": worst.version_id, "risk": float(worst.risk), "class_name": worst.class_name,
            "recorded_at": worst.recorded_at.isoformat()}


def pledged_press_health(press: Press, *, lender, smoothing: float = 0.3, tolerance_z: float = 1.0,
                         reference_z: float = 0.0, now=None) -> dict:
    """The health picture of ``press`` for ``lender``: current health index (z), its EWMA, alarm level, trend,
    open alarm and days in alarm, and the federated model's failure risk (None without a prediction); or
    ``shared: False`` and nothing else when the enterprise does not share the press's health with the lender.
    ``fingerprint`` is what a credit decision depends on (alarm state, persistent trend, prediction)."""
    if not lender_sees_press_health(press, lender):
        return _not_shared(press)
    now = now or timezone.now()
    state_model, alarm_model = _health_models()
    state = state_model.objects.filter(press=press).first()
    points = [(when, z, level) for when, z, level in (state.trend if state else [])]
    zs = [float(z) for _when, z, _level in points if z is not None]
    smoothed_series = ewma_smooth(zs, smoothing) if zs else None
    smoothed = float(smoothed_series[-1]) if smoothed_series is not None else None
    move = 0
    if smoothed_series is not None:
        # persistent_health_move wants "higher is healthier": pass -z against -reference.
        move = persistent_health_move(-smoothed_series, -reference_z, tolerance_z, PERSISTENCE_PERIODS)
    trend = {-1: "deteriorating", 0: "stable", 1: "recovering"}[move]
    level = int(state.level) if state is not None else 0
    unresolved = list(alarm_model.objects.filter(press=press, status__in=alarm_model.UNRESOLVED)
                      .order_by("-level", "-raised_at"))
    open_alarm = unresolved[0] if unresolved else None
    alarm_days = 0.0
    in_alarm = [a for a in unresolved if a.level >= ALARM_LEVEL]
    if level >= ALARM_LEVEL and in_alarm:
        since = min(a.first_raised_at for a in in_alarm)
        alarm_days = max((now - since).total_seconds() / 86400.0, 0.0)
    prediction = _failure_prediction(press)
    return {
        "press_id": press.pk, "press_name": press.name, "shared": True,
        "health_index_z": None if state is None or state.health_index_z is None else float(state.health_index_z),
        "health_index_z_smoothed": smoothed, "alarm_level": level, "trend": trend, "persistent_move": move,
        "open_alarm": None if open_alarm is None else {
            "id": open_alarm.pk, "level": open_alarm.level, "status": open_alarm.status,
            "component": open_alarm.component, "fault": open_alarm.fault, "fault_label": open_alarm.fault_label,
            "raised_at": open_alarm.raised_at.isoformat(), "first_raised_at": open_alarm.first_raised_at.isoformat()},
        "alarm_days": alarm_days,
        "failure_risk": prediction["risk"] if prediction else None,
        "prediction": prediction,
        "last_reading_at": state.last_recorded_at.isoformat() if state and state.last_recorded_at else None,
        # What a decision depends on, stable while nothing happens: alarm state and its start (not the days
        # elapsed), the persistent trend, the prediction.
        "fingerprint": {"press": press.pk, "shared": True, "level": level, "trend": move,
                        "open_alarm": [open_alarm.pk, open_alarm.level, open_alarm.first_raised_at.isoformat()]
                        if open_alarm else None, "prediction": prediction["id"] if prediction else None},
    }


def lender_view(health: dict) -> dict:
    """What an assessment stores and shows of a press's health (the fingerprint is for hashing only)."""
    return {key: value for key, value in health.items() if key != "fingerprint"}


def press_health_history(press: Press, *, lender, smoothing: float = 0.3) -> list[dict]:
    """The press's health-index series (``health.selectors.press_trend``: per batch the largest channel z and
    the highest level) with its EWMA, for a lender's chart; empty without a live share."""
    if not lender_sees_press_health(press, lender):
        return []
    from health.selectors import press_trend

    trend = press_trend(press=press, cap=HISTORY_POINTS)
    zs = [float(z) for z in trend["z"] if z is not None]
    smoothed = iter(ewma_smooth(zs, smoothing).tolist()) if zs else iter(())
    return [{"at": at, "z": None if z is None else float(z), "z_smoothed": next(smoothed) if z is not None else None,
             "level": level} for at, z, level in zip(trend["t"], trend["z"], trend["level"], strict=True)]


def presses_with_alarms_since(press_ids: list[int], since: dt.datetime | None) -> set[int]:
    """Which of the presses raised (or raised the level of) an alarm after ``since`` (any time when None).
    Used to find reviews the health app did not ask for; it reveals nothing to anyone."""
    _state_model, alarm_model = _health_models()
    alarms = alarm_model.objects.filter(press_id__in=press_ids)
    if since is not None:
        alarms = alarms.filter(raised_at__gt=since)
    return set(alarms.values_list("press_id", flat=True))


def presses_with_predictions_since(press_ids: list[int], since: dt.datetime | None) -> set[int]:
    prediction_model = _prediction_model()
    if prediction_model is None:
        return set()
    predictions = prediction_model.objects.filter(press_id__in=press_ids, version__is_active=True)
    if since is not None:
        predictions = predictions.filter(created_at__gt=since)
    return set(predictions.values_list("press_id", flat=True))
