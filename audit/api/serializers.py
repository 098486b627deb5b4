from rest_framework import serializers

from ..models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["sequence", "occurred_at", "actor_user", "actor_org", "actor_kind", "action", "object_type",
                  "object_id", "before_digest", "after_digest", "payload", "key_id", "prev_mac", "mac",
                  "organization"]
        read_only_fields = fields


class ChainVerificationSerializer(serializers.ModelSerializer):
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        from ..models import ChainVerification

        model = ChainVerification
        fields = ["id", "requested_at", "status", "total", "checked", "progress_percent", "finished_at",
                  "broken_sequence", "reason", "message"]
        read_only_fields = fields
