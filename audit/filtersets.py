import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent


class AuditEventFilterSet(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", label=_("Organisation"))
    actor = django_filters.CharFilter(method="filter_actor", label=_("Actor"),
                                      help_text=_("A username, or worker:<organisation> for work a worker did."))
    actor_org = django_filters.CharFilter(field_name="actor_org", lookup_expr="iexact", label=_("Actor's organisation"))
    action = django_filters.CharFilter(field_name="action", lookup_expr="istartswith", label=_("Action"))
    object_type = django_filters.CharFilter(field_name="object_type", label=_("Object type"))
    object_id = django_filters.CharFilter(field_name="object_id", label=_("Object id"))
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte", label=_("From"))
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lte", label=_("Until"))

    class Meta:
        model = AuditEvent
        fields = ["organization", "actor", "actor_org", "action", "object_type", "object_id", "since", "until"]

    def filter_actor(self, queryset, name, value):
        value = value.strip()
        kind, sep, org = value.partition(":")
        if sep and kind.lower() in ("worker", "system"):
            match = Q(actor_kind=kind.lower())
            return queryset.filter(match & Q(actor_org__iexact=org) if org else match)
        if value.lower() in ("system", "worker"):
            return queryset.filter(actor_kind=value.lower())
        return queryset.filter(actor_user__iexact=value)
