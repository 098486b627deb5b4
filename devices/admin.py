from django.contrib import admin

from portal.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import Channel, Component, HealthShare, Press, SensorBatch


class ComponentInline(ReadOnlyInline):
    model = Component
    extra = 0


class ChannelInline(ReadOnlyInline):
    model = Channel
    extra = 0


@admin.register(Press)
class PressAdmin(ReadOnlyAdmin):
    list_display = ["name", "organization", "site", "status"]
    inlines = [ComponentInline, ChannelInline]


@admin.register(SensorBatch)
class SensorBatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "press", "started_at", "sample_count", "sampling_rate_hz"]


admin.site.register(HealthShare, ReadOnlyAdmin)
