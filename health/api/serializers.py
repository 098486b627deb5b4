from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..conditions import condition_label
from ..labels import advice_text, fault_text, level_label
from ..models import HealthAlarm, HealthBaseline, HealthRun


class MaintenanceAdviceSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()


def _advice(key: str) -> dict:
    return {"key": key, "text": advice_text(key)}


class PressHealthSerializer(serializers.Serializer):
    """A press's health summary: what a lender with a live share may see (open alarms only for the
    enterprise's own people)."""

    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    organization = serializers.CharField(source="organization.name")
    site = serializers.CharField()
    level = serializers.SerializerMethodField()
    level_name = serializers.SerializerMethodField()
    health_index_z = serializers.SerializerMethodField()
    last_recorded_at = serializers.SerializerMethodField()
    trend = serializers.SerializerMethodField()
    open_alarms = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    def _state(self, press):
        return getattr(press, "health_state", None)

    @extend_schema_field(OpenApiTypes.INT)
    def get_level(self, press):
        state = self._state(press)
        return state.level if state else None

    def get_level_name(self, press) -> str:
        return level_label(self.get_level(press))

    @extend_schema_field(OpenApiTypes.FLOAT)
    def get_health_index_z(self, press):
        state = self._state(press)
        return state.health_index_z if state else None

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_last_recorded_at(self, press):
        state = self._state(press)
        return state.last_recorded_at.isoformat() if state and state.last_recorded_at else None

    @extend_schema_field({"type": "array", "items": {"type": "array", "items": {}},
                          "description": "[recording time, largest channel z or null, level] per recent batch"})
    def get_trend(self, press):
        state = self._state(press)
        return state.trend if state else []

    @extend_schema_field(OpenApiTypes.INT)
    def get_open_alarms(self, press):
        if press.pk not in self.context.get("detail_ids", set()):
            return None
        return getattr(press, "open_alarm_count", None)

    def get_url(self, press) -> str:
        return reverse("health:press", args=[press.pk])


class HealthRunSerializer(serializers.ModelSerializer):
    level_name = serializers.SerializerMethodField()
    advice = serializers.SerializerMethodField()
    condition = serializers.SerializerMethodField()

    class Meta:
        model = HealthRun
        fields = ["id", "batch", "press", "channel_name", "component_name", "recorded_at", "status", "progress", "error",
                  "condition", "baseline", "baseline_member", "shaft_hz", "indicators", "band", "faults", "ses_peaks",
                  "health_index", "health_index_z", "window_health_indices", "batch_level", "level", "level_name", "level_reasons",
                  "threshold_decision", "advice", "iso_zone", "notes", "started_at", "finished_at"]
        read_only_fields = fields

    def get_level_name(self, run) -> str:
        return level_label(run.level)

    @extend_schema_field(MaintenanceAdviceSerializer)
    def get_advice(self, run):
        return _advice(run.advice_key) if run.advice_key else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_condition(self, run):
        baseline = run.baseline
        return baseline_condition(baseline) if baseline is not None else None


def baseline_condition(baseline: HealthBaseline) -> str:
    return condition_label(sampling_rate_hz=baseline.sampling_rate_hz, stroke_rate_low_spm=baseline.stroke_rate_low_spm,
                           stroke_rate_high_spm=baseline.stroke_rate_high_spm, load_low_percent=baseline.load_low_percent,
                           load_high_percent=baseline.load_high_percent)


class HealthAlarmSerializer(serializers.ModelSerializer):
    press_name = serializers.CharField(source="press.name", read_only=True)
    batch = serializers.IntegerField(source="run.batch_id", read_only=True)
    level_name = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    advice = serializers.SerializerMethodField()
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = HealthAlarm
        fields = ["id", "press", "press_name", "channel_name", "run", "batch", "status", "level", "level_name",
                  "component", "fault", "fault_label", "fault_hz", "component_name", "description", "advice",
                  "raised_at", "first_raised_at", "acknowledged_by", "acknowledged_at", "acknowledge_comment",
                  "escalated_at", "resolved_by", "resolved_at", "resolve_comment"]
        read_only_fields = fields

    def get_level_name(self, alarm) -> str:
        return level_label(alarm.level)

    def get_description(self, alarm) -> str:
        return fault_text(component=alarm.component, fault=alarm.fault, label=alarm.fault_label,
                          frequency_hz=alarm.fault_hz, component_name=alarm.component_name)

    @extend_schema_field(MaintenanceAdviceSerializer)
    def get_advice(self, alarm):
        return _advice(alarm.advice_key)


class AlarmCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="",
                                    help_text="Required: what was checked, decided or done.")


class HealthThresholdsSerializer(serializers.Serializer):
    warning_z = serializers.FloatField()
    alarm_z = serializers.FloatField()
    danger_z = serializers.FloatField()
    clear_fraction = serializers.FloatField(read_only=True)
    persistence_n = serializers.IntegerField(read_only=True)
    persistence_m = serializers.IntegerField(read_only=True)


class HealthThresholdOverrideSerializer(serializers.Serializer):
    warning_z = serializers.FloatField()
    alarm_z = serializers.FloatField()
    danger_z = serializers.FloatField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class HealthBaselineResetSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class HealthBaselineSerializer(serializers.ModelSerializer):
    condition = serializers.SerializerMethodField()
    member_count = serializers.IntegerField(read_only=True)
    thresholds = HealthThresholdsSerializer(read_only=True)
    thresholds_overridden_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    summary = serializers.SerializerMethodField()

    class Meta:
        model = HealthBaseline
        fields = ["id", "press", "channel_name", "condition_key", "condition", "sampling_rate_hz", "status",
                  "target_batches", "member_count", "generation", "fitted_at", "thresholds",
                  "thresholds_overridden_by", "thresholds_overridden_at", "thresholds_override_reason", "summary"]
        read_only_fields = fields

    def get_condition(self, baseline) -> str:
        return baseline_condition(baseline)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_summary(self, baseline):
        data = baseline.baseline
        if not data:
            return None
        return {key: data[key] for key in ("n_windows", "window_size", "index_median", "index_spread",
                                           "alpha_min_hz", "alpha_max_hz")}


class BatchHealthRunSerializer(serializers.Serializer):
    channel = serializers.CharField()
    run = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    status_label = serializers.CharField()
    progress = serializers.IntegerField()
    level = serializers.IntegerField(allow_null=True)
    level_name = serializers.CharField()
    health_index_z = serializers.FloatField(allow_null=True)
    finding = serializers.CharField()
    error = serializers.CharField()
    baseline_member = serializers.BooleanField()


class BatchHealthSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    percent = serializers.IntegerField()
    runs = BatchHealthRunSerializer(many=True)
