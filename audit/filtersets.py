import django_filters
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent


class AuditEventFilterSet(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", label=_("Organisation"))
    actor = django_filters.CharFilter(field_name="actor_user", lookup_expr="iexact", label=_("Actor"))
    action = django_filters.CharFilter(field_name="action", lookup_expr="istartswith", label=_("Action"))
    object_type = django_filters.CharFilter(field_name="object_type", label=_("Object type"))
    object_id = django_filters.CharFilter(field_name="object_id", label=_("Object id"))
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte", label=_("From"))
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lte", label=_("Until"))

    class Meta:
        model = AuditEvent
        fields = ["organization", "actor", "action", "object_type", "object_id", "since", "until"]
