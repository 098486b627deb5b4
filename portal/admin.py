"""Django's admin site is a read-only inspector (for a break-glass superuser created from the shell).

Every change to portal data goes through the apps' services, which check permissions and write an audit
event in the same transaction; an admin form would do neither. So no model is added, changed or deleted
here: onboarding, roles, suspensions and grants are on the portal's own pages.
"""
from django.contrib import admin


class _ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(_ReadOnly, admin.ModelAdmin):
    pass


class ReadOnlyInline(_ReadOnly, admin.TabularInline):
    extra = 0
