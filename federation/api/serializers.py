import base64
import binascii

from rest_framework import serializers

from ..models import (Aggregation, BatchLabel, DataUseGrant, FederatedTask, LabelSource, ModelKind, ModelUpdate,
                      ModelVersion, Prediction, TaskParticipant)


class ParticipantSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = TaskParticipant
        fields = ["organization", "status", "status_message", "joined_at", "stopped_at"]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer):
    initiator = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    strategy_name = serializers.CharField(read_only=True, help_text="fedma, fedavg or robust_fedavg")
    participants = ParticipantSerializer(many=True, read_only=True)
    aggregator_public_key_pem = serializers.SerializerMethodField(
        help_text="Seal updates to this X25519 key (federation.core.envelope.seal_update).")

    class Meta:
        model = FederatedTask
        fields = ["id", "uuid", "purpose", "initiator", "model_kind", "dataset_kind", "spec", "strategy_name",
                  "rounds", "local_epochs", "label_source", "period_start", "period_end", "epsilon", "delta",
                  "min_participants", "straggler_warning_s", "straggler_timeout_s", "hierarchical", "compare_of",
                  "feature_config", "status", "status_message", "current_step", "planned_steps", "grant_expires_at",
                  "created_at", "started_at", "finished_at", "participants", "aggregator_public_key_pem"]
        read_only_fields = fields

    def get_aggregator_public_key_pem(self, task) -> str:
        from ..crypto import aggregator_key

        if "aggregator_public_key_pem" not in self.context:  # once per response, not per task
            self.context["aggregator_public_key_pem"] = aggregator_key().encryption_public_pem
        return self.context["aggregator_public_key_pem"]


class TaskCreateSerializer(serializers.Serializer):
    purpose = serializers.CharField(max_length=500)
    model_kind = serializers.ChoiceField(choices=ModelKind.choices)
    enterprises = serializers.ListField(child=serializers.SlugField(), min_length=1,
                                        help_text="Short names of the enterprises asked for data.")
    presses = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    label_source = serializers.ChoiceField(choices=LabelSource.choices)
    aggregation = serializers.ChoiceField(choices=Aggregation.choices, default=Aggregation.FEDMA)
    rounds = serializers.IntegerField(min_value=1, max_value=50, default=2)
    local_epochs = serializers.IntegerField(min_value=1, max_value=100, default=5)
    hidden_sizes = serializers.ListField(child=serializers.IntegerField(min_value=1), default=[16])
    learning_rate = serializers.FloatField(default=0.02)
    batch_size = serializers.IntegerField(default=16)
    epsilon = serializers.FloatField(required=False, allow_null=True, default=None)
    delta = serializers.FloatField(required=False, allow_null=True, default=None)
    min_participants = serializers.IntegerField(min_value=1, default=2)
    straggler_warning_s = serializers.IntegerField(min_value=1, default=300)
    straggler_timeout_s = serializers.IntegerField(min_value=2, default=900)
    hierarchical = serializers.BooleanField(default=False)
    compare = serializers.BooleanField(default=False)
    period_start = serializers.DateField(required=False, allow_null=True, default=None)
    period_end = serializers.DateField(required=False, allow_null=True, default=None)
    grant_expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    seed = serializers.IntegerField(min_value=0, default=0)


class UpdateSubmitSerializer(serializers.Serializer):
    envelope = serializers.CharField(help_text="The sealed envelope (federation.core.envelope), base64.")
    metrics = serializers.DictField(required=False, default=dict,
                                    help_text="The participant's own report: loss, accuracy, auc, f1 on its hold-out.")
    sites = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    training_seconds = serializers.FloatField(required=False, allow_null=True, default=None)

    def validate_envelope(self, value: str) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError("Give the envelope in base64.") from exc


class ModelUpdateSerializer(serializers.ModelSerializer):
    task = serializers.IntegerField(source="step.task_id", read_only=True)
    step = serializers.IntegerField(source="step.index", read_only=True)
    participant = serializers.CharField(source="participant.organization.slug", read_only=True)

    class Meta:
        model = ModelUpdate
        fields = ["id", "task", "step", "participant", "status", "envelope_sha256", "submitted_by", "received_at",
                  "num_samples", "class_counts", "train_loss", "local_metrics", "sites", "note"]
        read_only_fields = fields


class RejectionSerializer(serializers.Serializer):
    reason = serializers.CharField()
    detail = serializers.CharField()


class GrantSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requester = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)

    class Meta:
        model = DataUseGrant
        fields = ["id", "task", "organization", "requester", "requested_by", "purpose", "model_description",
                  "requested_presses", "presses", "period_start", "period_end", "epsilon", "delta", "expires_at",
                  "status", "decided_at", "revoked_at", "reason", "created_at"]
        read_only_fields = fields


class GrantAcceptSerializer(serializers.Serializer):
    presses = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True, default=None,
                                    help_text="Your presses whose data the task may use (default: those requested).")


class TaskReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ModelVersionSerializer(serializers.ModelSerializer):
    task_purpose = serializers.CharField(source="task.purpose", read_only=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "task", "task_purpose", "number", "model_kind", "sha256", "spec", "class_names",
                  "layer_sizes", "parent", "lineage", "metrics", "contributions", "is_final", "is_active",
                  "activated_at", "created_at"]
        read_only_fields = fields


class PredictionSerializer(serializers.ModelSerializer):
    model_version = serializers.CharField(source="version.sha256", read_only=True)

    class Meta:
        model = Prediction
        fields = ["id", "press", "batch", "channel", "health_run_id", "model_version", "predicted_class", "class_name",
                  "confidence", "risk", "probabilities", "windows", "source", "recorded_at", "created_at"]
        read_only_fields = fields


class BatchLabelSerializer(serializers.ModelSerializer):
    set_by = serializers.CharField(source="set_by.username", read_only=True)

    class Meta:
        model = BatchLabel
        fields = ["batch", "condition", "note", "set_by", "set_at"]
        read_only_fields = ["set_by", "set_at"]
        extra_kwargs = {"batch": {"validators": []}}
