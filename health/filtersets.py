import django_filters

from .models import HealthAlarm, HealthBaseline, HealthRun


class HealthRunFilterSet(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="recorded_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="recorded_at", lookup_expr="lte")

    class Meta:
        model = HealthRun
        fields = ["press", "batch", "channel_name", "status", "level", "since", "until"]


class HealthAlarmFilterSet(django_filters.FilterSet):
    unresolved = django_filters.BooleanFilter(method="filter_unresolved")

    class Meta:
        model = HealthAlarm
        fields = ["press", "status", "level", "channel_name", "unresolved"]

    def filter_unresolved(self, queryset, name, value):
        if value is None:
            return queryset
        lookup = {"status__in": HealthAlarm.UNRESOLVED}
        return queryset.filter(**lookup) if value else queryset.exclude(**lookup)


class HealthBaselineFilterSet(django_filters.FilterSet):
    class Meta:
        model = HealthBaseline
        fields = ["press", "channel_name", "status"]
