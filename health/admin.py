"""Read-only admin: health rows change only through the services, which audit every change."""
from django.contrib import admin

from portal.admin import ReadOnlyAdmin

from .models import HealthAlarm, HealthBaseline, HealthRun, PressHealthState


@admin.register(HealthRun)
class HealthRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "press", "batch", "channel_name", "status", "level", "health_index_z", "recorded_at"]
    list_filter = ["status", "level"]


@admin.register(HealthAlarm)
class HealthAlarmAdmin(ReadOnlyAdmin):
    list_display = ["id", "press", "channel_name", "level", "status", "fault", "raised_at"]
    list_filter = ["status", "level"]


@admin.register(HealthBaseline)
class HealthBaselineAdmin(ReadOnlyAdmin):
    list_display = ["id", "press", "channel_name", "condition_key", "status", "generation"]


@admin.register(PressHealthState)
class PressHealthStateAdmin(ReadOnlyAdmin):
    list_display = ["press", "level", "health_index_z", "last_recorded_at"]
