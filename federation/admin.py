from django.contrib import admin

from portal.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import (AggregatorKey, BatchLabel, DataUseGrant, Evaluation, FederatedTask, ModelUpdate, ModelVersion,
                     Prediction, TaskParticipant, TaskStep, UpdateRejection)


class ParticipantInline(ReadOnlyInline):
    model = TaskParticipant
    extra = 0
    readonly_fields = ["organization", "grant", "status", "status_message", "joined_at", "stopped_at"]


@admin.register(FederatedTask)
class FederatedTaskAdmin(ReadOnlyAdmin):
    list_display = ["id", "purpose", "initiator", "strategy_name", "status", "current_step", "planned_steps"]
    list_filter = ["status", "strategy_name", "model_kind"]
    inlines = [ParticipantInline]
    readonly_fields = ["uuid", "spec", "strategy_config", "feature_config"]


@admin.register(DataUseGrant)
class DataUseGrantAdmin(ReadOnlyAdmin):
    list_display = ["id", "task", "organization", "requester", "status", "expires_at"]
    list_filter = ["status"]


@admin.register(TaskStep)
class TaskStepAdmin(ReadOnlyAdmin):
    list_display = ["task", "index", "status", "description", "deadline_at"]
    exclude = ["state_before"]  # encrypted aggregator state: never shown


@admin.register(ModelUpdate)
class ModelUpdateAdmin(ReadOnlyAdmin):
    list_display = ["step", "participant", "status", "received_at", "num_samples"]
    exclude = ["envelope"]  # sealed envelope: never shown


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["id", "task", "number", "model_kind", "sha256", "is_active", "is_final"]
    exclude = ["weights", "loo_weights"]


admin.site.register(BatchLabel, ReadOnlyAdmin)
admin.site.register(UpdateRejection, ReadOnlyAdmin)
admin.site.register(Evaluation, ReadOnlyAdmin)
admin.site.register(Prediction, ReadOnlyAdmin)


@admin.register(AggregatorKey)
class AggregatorKeyAdmin(ReadOnlyAdmin):
    list_display = ["version", "fingerprint", "created_at", "revoked_at"]
    exclude = ["encryption_private_encrypted", "state_key_encrypted"]
