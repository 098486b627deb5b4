"""Organisation groups and object-permission grants (django-guardian).

Every organisation has a ``members`` group and one group per role. Services grant object permissions
to those groups when they create an object; views and the API only ever read them back through
``get_objects_for_user`` (lists) and ``has_perm(perm, obj)`` (actions).
"""
from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group, Permission
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from .roles import Role

MEMBERS = "members"
PLATFORM_ADMINS_GROUP = "platform-admins"

# Model-level (global) permissions of platform admins: onboarding, never other apps' data.
PLATFORM_ADMIN_PERMISSIONS = (
    "accounts.view_organization",
    "accounts.add_organization",
    "accounts.change_organization",
    "accounts.manage_organization",
    "accounts.view_user",
    "accounts.change_user",
    "accounts.view_participantkey",
    "accounts.audit_organization",
    "audit.verify_chain",
)


def org_group_name(org_id: int, role: str = MEMBERS) -> str:
    return f"org:{org_id}:{role}"


def org_group(organization, role: str = MEMBERS) -> Group:
    group, _created = Group.objects.get_or_create(name=org_group_name(organization.pk, role))
    return group


def platform_admins_group() -> Group:
    group, created = Group.objects.get_or_create(name=PLATFORM_ADMINS_GROUP)
    if created or group.permissions.count() != len(PLATFORM_ADMIN_PERMISSIONS):
        perms = []
        for dotted in PLATFORM_ADMIN_PERMISSIONS:
            app_label, codename = dotted.split(".")
            perms.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(perms)
    return group


def grant(perms: Iterable[str], obj, organization, roles: Iterable[str] | None = None) -> None:
    """Give ``perms`` on ``obj`` to an organisation: to all members, or only to ``roles``."""
    groups = [org_group(organization)] if roles is None else [org_group(organization, role) for role in roles]
    for perm in perms:
        for group in groups:
            assign_perm(perm, group, obj)


def revoke(perms: Iterable[str], obj, organization, roles: Iterable[str] | None = None) -> None:
    groups = [org_group(organization)] if roles is None else [org_group(organization, role) for role in roles]
    for perm in perms:
        for group in groups:
            remove_perm(perm, group, obj)


def objects_for(user, perm: str, queryset):
    """Objects of ``queryset`` on which ``user`` holds ``perm``: object grants, or a global grant."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    # guardian ignores global grants unless with_superuser is on; a Django superuser (break-glass, created
    # only from the shell) therefore sees everything, as in Django admin.
    return get_objects_for_user(user, perm, queryset, accept_global_perms=True, with_superuser=True)


def place_user_in_groups(user) -> None:
    """Put a user into their organisation's member and role groups (and the admins group)."""
    groups = [org_group(user.organization), org_group(user.organization, user.role)]
    if user.role == Role.ADMIN:
        groups.append(platform_admins_group())
    user.groups.set(groups)
