from rest_framework import mixins, viewsets

from .permissions import ObjectActionPermission, ScopedObjectsFilter
from django_filters.rest_framework import DjangoFilterBackend


class ScopedReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    """A read-only viewset over the objects the user may view; subclasses add ``@action``s."""

    permission_classes = [ObjectActionPermission]
    filter_backends = [ScopedObjectsFilter, DjangoFilterBackend]
    object_permissions: dict[str, str] = {}


class ScopedViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Scoped list/retrieve plus create through a service (``perform_create`` calls it)."""
