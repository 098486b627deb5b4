from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import Channel, Component, HealthShare, Press, SensorBatch


class ComponentInline(admin.TabularInline):
    model = Component
    extra = 0


class ChannelInline(admin.TabularInline):
    model = Channel
    extra = 0


@admin.register(Press)
class PressAdmin(GuardedModelAdmin):
    list_display = ["name", "organization", "site", "status"]
    inlines = [ComponentInline, ChannelInline]


@admin.register(SensorBatch)
class SensorBatchAdmin(admin.ModelAdmin):
    list_display = ["id", "press", "started_at", "sample_count", "sampling_rate_hz"]


admin.site.register(HealthShare)
