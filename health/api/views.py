"""Health API: press summaries and chart series, runs with their SES and kurtogram, alarms, baselines,
and the analysis status of a batch.

Every viewset reads through ``health.selectors``: an object outside the caller's scope is a 404 (a
lender with a live share sees a press's summary and trend, never its runs, spectra or batches); an
action on a visible object the caller may not perform is a 403.
"""
from __future__ import annotations

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from devices.models import Press
from portal.api.permissions import ObjectActionPermission

from .. import selectors, services
from ..filtersets import HealthAlarmFilterSet, HealthBaselineFilterSet, HealthRunFilterSet
from . import serializers as s

CHART = {"type": "object", "additionalProperties": True}
RANGE_PARAMETERS = [OpenApiParameter("since", OpenApiTypes.DATETIME, required=False),
                    OpenApiParameter("until", OpenApiTypes.DATETIME, required=False)]


class HealthActionPermission(ObjectActionPermission):
    """Reads: the object is in the viewset's queryset, which ``health.selectors`` scopes through the press's
    guardian permissions (runs and alarms carry none of their own). Actions: the permission the view
    declares for the action, on the object's press."""

    def has_object_permission(self, request, view, obj):
        required = getattr(view, "object_permissions", {}).get(view.action)
        if required is None:
            return request.method in permissions.SAFE_METHODS
        press = obj if isinstance(obj, Press) else obj.press
        return self._holds(request.user, [required], press)


class HealthViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [HealthActionPermission]
    filter_backends = [DjangoFilterBackend]
    object_permissions: dict[str, str] = {}


def _range(request) -> dict:
    found = {}
    for name in ("since", "until"):
        value = request.query_params.get(name)
        if value:
            parsed = parse_datetime(value)
            if parsed is None:
                raise ValidationError({name: [_("Give an ISO 8601 date and time.")]})
            found[name] = parsed
    return found


class PressHealthViewSet(HealthViewSet):
    """Health of the presses the caller may follow: level, health index z and recent trend. The chart
    series (``timeseries``, ``indicators``, ``conditions``) are the enterprise's own; ``trend`` is what a
    lender with a live share sees."""

    serializer_class = s.PressHealthSerializer
    detail_actions = {"timeseries", "indicators", "conditions"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Press.objects.none()
        if self.action in self.detail_actions:
            return selectors.fleet(user=self.request.user).filter(
                pk__in=selectors.detail_presses(user=self.request.user).values("pk"))
        return selectors.fleet(user=self.request.user)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "request", None) is not None and self.request.user.is_authenticated:
            context["detail_ids"] = set(selectors.detail_presses(user=self.request.user).values_list("pk", flat=True))
        return context

    @extend_schema(parameters=RANGE_PARAMETERS, responses={200: CHART})
    @action(detail=True, methods=["get"])
    def trend(self, request, pk=None):
        """Per batch: the largest channel health index z and the highest level (downsampled)."""
        return Response(selectors.press_trend(press=self.get_object(), **_range(request)))

    @extend_schema(parameters=RANGE_PARAMETERS, responses={200: CHART})
    @action(detail=True, methods=["get"])
    def timeseries(self, request, pk=None):
        """Per channel: health index z and level over time with its thresholds; alarm markers."""
        return Response(selectors.press_timeseries(press=self.get_object(), **_range(request)))

    @extend_schema(parameters=[OpenApiParameter("channel", OpenApiTypes.STR, required=False)], responses={200: CHART})
    @action(detail=True, methods=["get"])
    def indicators(self, request, pk=None):
        """Each indicator's trend (time and cyclic forms) for one channel."""
        return Response(selectors.press_indicator_series(press=self.get_object(),
                                                         channel=request.query_params.get("channel")))

    @extend_schema(responses={200: CHART})
    @action(detail=True, methods=["get"])
    def conditions(self, request, pk=None):
        """Operating conditions of the press's batches over time."""
        return Response(selectors.press_conditions_series(press=self.get_object()))


class HealthRunViewSet(HealthViewSet):
    """Analysis runs (one per batch and channel) of the caller's enterprise."""

    serializer_class = s.HealthRunSerializer
    filterset_class = HealthRunFilterSet

    def get_queryset(self):
        return selectors.run_list(user=self.request.user).select_related("baseline")

    def _chart(self, run):
        chart = getattr(run, "chart", None) if run.status == run.Status.DONE else None
        if chart is None:
            raise NotFound(_("This run has no spectra (it is not finished or it failed)."))
        return chart

    @extend_schema(responses={200: CHART})
    @action(detail=True, methods=["get"])
    def ses(self, request, pk=None):
        """The squared envelope spectrum of the chosen band, the SES peaks, the fault frequencies looked
        for (expected) and the faults matched (found, with harmonics)."""
        run = self.get_object()
        chart = self._chart(run)
        return Response({"run": run.pk, "channel": run.channel_name, "shaft_hz": run.shaft_hz,
                         "frequency_hz": chart.ses.get("frequency_hz", []), "amplitude": chart.ses.get("amplitude", []),
                         "peaks": run.ses_peaks, "candidates": chart.fault_candidates, "faults": run.faults,
                         "band": run.band})

    @extend_schema(responses={200: CHART})
    @action(detail=True, methods=["get"])
    def kurtogram(self, request, pk=None):
        """The kurtogram / infogram matrices (level x frequency) and the band chosen."""
        run = self.get_object()
        chart = self._chart(run)
        return Response({"run": run.pk, "channel": run.channel_name, **chart.kurtogram, "band": run.band})


class HealthAlarmViewSet(HealthViewSet):
    """Alarms of the caller's enterprise; managers acknowledge and resolve them (a comment is required)."""

    serializer_class = s.HealthAlarmSerializer
    filterset_class = HealthAlarmFilterSet
    object_permissions = {"acknowledge": "devices.change_press", "resolve": "devices.change_press"}

    def get_queryset(self):
        return selectors.alarm_list(user=self.request.user)

    @extend_schema(request=s.AlarmCommentSerializer, responses=s.HealthAlarmSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alarm = self.get_object()
        data = s.AlarmCommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alarm = services.alarm_acknowledge(actor=request.user, alarm=alarm, comment=data.validated_data["comment"])
        return Response(s.HealthAlarmSerializer(selectors.alarm_get(user=request.user, pk=alarm.pk)).data)

    @extend_schema(request=s.AlarmCommentSerializer, responses=s.HealthAlarmSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        alarm = self.get_object()
        data = s.AlarmCommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alarm = services.alarm_resolve(actor=request.user, alarm=alarm, comment=data.validated_data["comment"])
        return Response(s.HealthAlarmSerializer(selectors.alarm_get(user=request.user, pk=alarm.pk)).data)


class HealthBaselineViewSet(HealthViewSet):
    """Baselines and thresholds per channel and operating condition; managers reset a baseline or
    override its thresholds (with a reason)."""

    serializer_class = s.HealthBaselineSerializer
    filterset_class = HealthBaselineFilterSet
    object_permissions = {"reset": "devices.change_press", "thresholds": "devices.change_press"}

    def get_queryset(self):
        return selectors.baseline_list(user=self.request.user)

    @extend_schema(request=s.HealthBaselineResetSerializer, responses=s.HealthBaselineSerializer)
    @action(detail=True, methods=["post"])
    def reset(self, request, pk=None):
        baseline = self.get_object()
        data = s.HealthBaselineResetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.baseline_reset(actor=request.user, baseline=baseline, reason=data.validated_data["reason"])
        return Response(s.HealthBaselineSerializer(selectors.baseline_get(user=request.user, pk=baseline.pk)).data)

    @extend_schema(request=s.HealthThresholdOverrideSerializer, responses=s.HealthBaselineSerializer)
    @action(detail=True, methods=["post"])
    def thresholds(self, request, pk=None):
        baseline = self.get_object()
        data = s.HealthThresholdOverrideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.thresholds_override(actor=request.user, baseline=baseline, **data.validated_data)
        return Response(s.HealthBaselineSerializer(selectors.baseline_get(user=request.user, pk=baseline.pk)).data)


class BatchHealthViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The analysis status of a batch (queued / running / done / failed, per channel), polled by the
    batch page; managers mark a batch healthy for the baseline."""

    permission_classes = [HealthActionPermission]
    serializer_class = s.BatchHealthSerializer
    object_permissions = {"mark_healthy": "devices.change_press"}

    def get_queryset(self):
        from devices.selectors import batch_list

        return batch_list(user=self.request.user).select_related("press")

    def retrieve(self, request, pk=None):
        return Response(selectors.batch_analysis_report(batch=self.get_object()))

    @extend_schema(request=None, responses=s.BatchHealthSerializer)
    @action(detail=True, methods=["post"], url_path="mark-healthy")
    def mark_healthy(self, request, pk=None):
        batch = self.get_object()
        services.batch_mark_healthy(actor=request.user, batch=batch)
        return Response(selectors.batch_analysis_report(batch=batch))
