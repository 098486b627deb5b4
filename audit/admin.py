from django.contrib import admin

from portal.admin import ReadOnlyAdmin

from .models import AuditEvent, AuditIntake


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the log is append-only."""

    list_display = ["sequence", "occurred_at", "actor_user", "action", "object_type", "object_id"]
    list_filter = ["action"]



@admin.register(AuditIntake)
class AuditIntakeAdmin(ReadOnlyAdmin):
    """Events recorded moments ago, waiting for their place in the chain (normally empty)."""

    list_display = ["id", "occurred_at", "actor_user", "action", "object_type", "object_id"]
