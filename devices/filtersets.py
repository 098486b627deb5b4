import django_filters
from django.db.models import Q

from .models import Press, SensorBatch


class PressFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=Press.Status.choices)

    class Meta:
        model = Press
        fields = ["q", "status", "site"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(site__icontains=value) | Q(make__icontains=value)
                               | Q(model__icontains=value))


class SensorBatchFilterSet(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lte")

    class Meta:
        model = SensorBatch
        fields = ["since", "until"]
