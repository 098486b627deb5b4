"""Health pages: the fleet, a press's health dashboard (full for the enterprise, level and trend for a
lender with a live share), a run, an alarm, and the managers' actions. Charts are drawn in the browser
from the API (static/js/health_charts.js) with Plotly, served from the installed plotly package."""
from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from devices.models import Press, SensorBatch

from . import selectors, services
from .api.serializers import baseline_condition
from .forms import BaselineResetForm, CommentForm, ThresholdForm
from .models import HealthAlarm, HealthBaseline, HealthRun


def _or_404(getter, **kwargs):
    try:
        return getter(**kwargs)
    except (Press.DoesNotExist, HealthRun.DoesNotExist, HealthAlarm.DoesNotExist, HealthBaseline.DoesNotExist,
            SensorBatch.DoesNotExist) as exc:
        raise Http404 from exc


def _back(request, default: str):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


def _error_message(request, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


def plotly_js_view(request):
    """plotly.min.js from the installed ``plotly`` package (the portal runs without internet access)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    response = FileResponse(path.open("rb"), content_type="text/javascript")
    response["Cache-Control"] = "public, max-age=31536000, immutable"  # the URL carries the version
    return response


def plotly_js_url() -> str:
    import plotly

    return f"{reverse('health:plotly_js')}?v={plotly.__version__}"


@login_required
def fleet_view(request):
    presses = list(selectors.fleet(user=request.user))
    detail_ids = set(selectors.detail_presses(user=request.user).values_list("pk", flat=True))
    alarms = list(selectors.alarm_list(user=request.user, unresolved=True)[:50])
    return render(request, "health/fleet.html", {
        "presses": presses, "detail_ids": detail_ids, "alarms": alarms, "plotly_url": plotly_js_url(),
        "shows_alarms": bool(detail_ids)})


@login_required
def press_health_view(request, pk: int):
    press = _or_404(selectors.press_health_get, user=request.user, pk=pk)
    context = {"press": press, "state": getattr(press, "health_state", None), "plotly_url": plotly_js_url()}
    if not selectors.may_see_details(user=request.user, press=press):
        return render(request, "health/press_lender.html", context)
    baselines = list(selectors.baseline_list(user=request.user, press=press))
    for baseline in baselines:
        baseline.condition_label = baseline_condition(baseline)
    context.update({
        "alarms": list(selectors.alarm_list(user=request.user, press=press)[:20]),
        "baselines": baselines,
        "runs": list(selectors.run_list(user=request.user, press=press)[:20]),
        "can_manage": request.user.has_perm("devices.change_press", press),
        "comment_form": CommentForm(), "reset_form": BaselineResetForm(),
    })
    return render(request, "health/press.html", context)


@login_required
def run_detail_view(request, pk: int):
    run = _or_404(selectors.run_get, user=request.user, pk=pk)
    return render(request, "health/run_detail.html", {
        "run": run, "plotly_url": plotly_js_url(),
        "condition": baseline_condition(run.baseline) if run.baseline_id else ""})


@login_required
def alarm_detail_view(request, pk: int):
    alarm = _or_404(selectors.alarm_get, user=request.user, pk=pk)
    return render(request, "health/alarm_detail.html", {
        "alarm": alarm, "comment_form": CommentForm(),
        "can_manage": request.user.has_perm("devices.change_press", alarm.press)})


def _alarm_action(request, pk: int, service, done_message: str):
    alarm = _or_404(selectors.alarm_get, user=request.user, pk=pk)
    form = CommentForm(request.POST)
    form.is_valid()
    try:
        service(actor=request.user, alarm=alarm, comment=form.cleaned_data.get("comment", ""))
        messages.success(request, done_message)
    except ValidationError as exc:
        _error_message(request, exc)
    return _back(request, reverse("health:alarm_detail", args=[alarm.pk]))


@login_required
@require_POST
def alarm_acknowledge_view(request, pk: int):
    return _alarm_action(request, pk, services.alarm_acknowledge, _("Alarm acknowledged."))


@login_required
@require_POST
def alarm_resolve_view(request, pk: int):
    return _alarm_action(request, pk, services.alarm_resolve, _("Alarm resolved."))


@login_required
@require_POST
def baseline_reset_view(request, pk: int):
    baseline = _or_404(selectors.baseline_get, user=request.user, pk=pk)
    form = BaselineResetForm(request.POST)
    form.is_valid()
    services.baseline_reset(actor=request.user, baseline=baseline, reason=form.cleaned_data.get("reason", ""))
    messages.success(request, _("Baseline reset: the next healthy batches in this condition form a new one."))
    return redirect("health:press", pk=baseline.press_id)


@login_required
@require_POST
def thresholds_override_view(request, pk: int):
    baseline = _or_404(selectors.baseline_get, user=request.user, pk=pk)
    if not request.user.has_perm("devices.change_press", baseline.press):
        raise PermissionDenied
    form = ThresholdForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the three thresholds as numbers, and a reason."))
        return redirect("health:press", pk=baseline.press_id)
    try:
        services.thresholds_override(actor=request.user, baseline=baseline, **form.cleaned_data)
        messages.success(request, _("Thresholds overridden."))
    except ValidationError as exc:
        _error_message(request, exc)
    return redirect("health:press", pk=baseline.press_id)


@login_required
@require_POST
def batch_mark_healthy_view(request, pk: int):
    batch = _or_404(selectors.batch_health_get, user=request.user, pk=pk)
    try:
        services.batch_mark_healthy(actor=request.user, batch=batch)
        messages.success(request, _("Batch marked healthy; the baseline is being refitted."))
    except ValidationError as exc:
        _error_message(request, exc)
    return redirect("devices:batch_detail", pk=batch.pk)
