from django.contrib import admin

from portal.admin import ReadOnlyAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the log is append-only."""

    list_display = ["sequence", "occurred_at", "actor_user", "action", "object_type", "object_id"]
    list_filter = ["action"]

