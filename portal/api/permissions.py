"""Object permissions for the API, read from django-guardian.

Lists are filtered to what the user may view (``ScopedObjectsFilter``), so an object outside the
user's scope is a 404 on detail routes; an action on a visible object the user may not perform is a 403.
Creation is checked in the services (who may create what depends on the organisation and role).
"""
from rest_framework import permissions
from rest_framework.filters import BaseFilterBackend

from accounts.permissions import objects_for


def _view_perm(model) -> str:
    return f"{model._meta.app_label}.view_{model._meta.model_name}"


class ScopedObjectsFilter(BaseFilterBackend):
    """Keeps only the objects the user holds the model's ``view`` permission on (object or global)."""

    def filter_queryset(self, request, queryset, view):
        return objects_for(request.user, _view_perm(queryset.model), queryset)


class ObjectActionPermission(permissions.BasePermission):
    """Checks the object permission that the view declares for the current action.

    ``view.object_permissions`` maps an action name (``retrieve``, ``update``, ``partial_update``,
    ``destroy`` or a custom ``@action``) to a permission codename; reads need the model's view permission.
    """

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        model = type(obj)
        if not request.user.has_perm(_view_perm(model), obj) and not request.user.has_perm(_view_perm(model)):
            return False  # the filter already hides it; never reveal existence
        required = getattr(view, "object_permissions", {}).get(view.action)
        if required is None:
            return request.method in permissions.SAFE_METHODS
        return request.user.has_perm(required, obj) or request.user.has_perm(required)
