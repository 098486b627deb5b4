from rest_framework import serializers

from ..models import Channel, Component, HealthShare, Press, SensorBatch


class ComponentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Component
        fields = ["name", "kind", "shaft_revolutions_per_stroke", "ball_count", "ball_diameter_mm",
                  "pitch_diameter_mm", "contact_angle_deg", "gear_teeth"]


class ChannelSerializer(serializers.ModelSerializer):
    component = serializers.CharField(required=False, allow_blank=True, allow_null=True, source="component.name")

    class Meta:
        model = Channel
        fields = ["name", "kind", "unit", "location", "component"]


class PressSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    components = ComponentSerializer(many=True, required=False)
    channels = ChannelSerializer(many=True, required=False)
    batch_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Press
        fields = ["id", "organization", "name", "site", "make", "model", "rated_tonnage_t", "stroke_rate_min_spm",
                  "stroke_rate_max_spm", "commissioned_on", "status", "retired_at", "retired_reason", "components",
                  "channels", "batch_count", "created_at"]
        read_only_fields = ["status", "retired_at", "retired_reason", "created_at"]
        extra_kwargs = {"name": {"validators": []}}

    def service_kwargs(self) -> dict:
        data = dict(self.validated_data)
        if "channels" in data:
            data["channels"] = [{**c, "component": (c.pop("component", None) or {}).get("name")} for c in data["channels"]]
        if "components" in data:
            data["components"] = [dict(c) for c in data["components"]]
        return data


class RetireSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class SensorBatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = SensorBatch
        fields = ["id", "press", "uploaded_at", "original_filename", "file_format", "size_bytes", "content_hash",
                  "sampling_rate_hz", "started_at", "stroke_rate_spm", "load_percent", "shaft_rpm", "sample_count",
                  "duration_s", "channel_names", "channel_summary", "warnings"]
        read_only_fields = fields


class BatchUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    started_at = serializers.DateTimeField()
    sampling_rate_hz = serializers.FloatField(required=False, allow_null=True)
    stroke_rate_spm = serializers.FloatField(required=False, allow_null=True)
    load_percent = serializers.FloatField(required=False, allow_null=True)
    channel_mapping = serializers.JSONField(required=False, allow_null=True,
                                            help_text='{"file column": "channel name"}')


class BatchErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    row = serializers.IntegerField(allow_null=True)
    column = serializers.IntegerField(allow_null=True)
    channel = serializers.CharField(allow_null=True)


class HealthShareSerializer(serializers.ModelSerializer):
    lender = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = HealthShare
        fields = ["id", "press", "lender", "granted_at", "expires_at", "revoked_at"]
        read_only_fields = fields


class HealthShareCreateSerializer(serializers.Serializer):
    lender = serializers.SlugField()
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
