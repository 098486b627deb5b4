"""Object permissions for the API, read from django-guardian through DRF's own classes.

Lists are filtered by ``ScopedObjectsFilter`` (djangorestframework-guardian's ``ObjectPermissionsFilter``,
which calls guardian's ``get_objects_for_user``), so an object outside the user's scope is a 404 on detail
routes. ``ObjectActionPermission`` (DRF's ``DjangoObjectPermissions``) checks, on a visible object, the
permission the view declares for the current action: a 403 when it is missing, a 404 when the object is
not visible at all. Creation is checked in the services (who may create what depends on the organisation
and role).
"""
from rest_framework import permissions
from rest_framework.exceptions import NotFound
from rest_framework_guardian.filters import ObjectPermissionsFilter


class ScopedObjectsFilter(ObjectPermissionsFilter):
    """Keeps only the objects the user holds the model's ``view`` permission on: an object grant, or a
    global grant (platform admins' onboarding permissions)."""

    shortcut_kwargs = {"accept_global_perms": True, "with_superuser": True}

    def filter_queryset(self, request, queryset, view):
        if not request.user.is_active:
            return queryset.none()
        return super().filter_queryset(request, queryset, view)


class ObjectActionPermission(permissions.DjangoObjectPermissions):
    """Reads need the model's ``view`` permission on the object; ``view.object_permissions`` maps an action
    name (``update``, ``partial_update``, ``destroy`` or a custom ``@action``) to the further permission
    codename it needs. An unsafe action that declares none is refused. Global grants count as well."""

    perms_map = {method: ["%(app_label)s.view_%(model_name)s"]
                 for method in ("GET", "OPTIONS", "HEAD", "POST", "PUT", "PATCH", "DELETE")}

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)

    @staticmethod
    def _holds(user, perms, obj) -> bool:
        return user.has_perms(perms, obj) or user.has_perms(perms)

    def has_object_permission(self, request, view, obj):
        if not self._holds(request.user, self.get_required_object_permissions("GET", type(obj)), obj):
            raise NotFound()  # never reveal that the object exists
        required = getattr(view, "object_permissions", {}).get(view.action)
        if required is None:
            return request.method in permissions.SAFE_METHODS
        return self._holds(request.user, [required], obj)
