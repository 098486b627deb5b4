"""Read-side queries for accounts: each returns a queryset scoped to what the user may see."""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .models import Invitation, Organization, ParticipantKey, User
from .permissions import objects_for
from .roles import PARTICIPANT_KINDS


def organization_list(*, user) -> QuerySet[Organization]:
    return objects_for(user, "accounts.view_organization", Organization.objects.all()).annotate(
        member_count=Count("members", distinct=True)
    ).order_by("name")


def organization_get(*, user, pk) -> Organization:
    """The organisation if ``user`` may see it; raises Organization.DoesNotExist otherwise."""
    return organization_list(user=user).get(pk=pk)


def user_list(*, user, organization: Organization | None = None) -> QuerySet[User]:
    qs = objects_for(user, "accounts.view_user", User.objects.select_related("organization"))
    if organization is not None:
        qs = qs.filter(organization=organization)
    return qs.order_by("username")


def invitation_list(*, user, organization: Organization) -> QuerySet[Invitation]:
    if not user.has_perm("accounts.manage_organization", organization) and not user.has_perm(
        "accounts.manage_organization"
    ):
        return Invitation.objects.none()
    return Invitation.objects.filter(organization=organization).select_related("created_by", "accepted_user")


def participant_key_list(*, user, organization: Organization | None = None) -> QuerySet[ParticipantKey]:
    """Public keys of organisations the user can see (the private halves never leave the row)."""
    visible = organization_list(user=user).values("pk")
    qs = ParticipantKey.objects.filter(organization__in=visible).select_related("organization")
    if organization is not None:
        qs = qs.filter(organization=organization)
    return qs


def participant_queue_names() -> list[str]:
    from portal.celery import participant_queue

    slugs = Organization.objects.filter(kind__in=PARTICIPANT_KINDS, status=Organization.Status.ACTIVE)
    return [participant_queue(slug) for slug in slugs.values_list("slug", flat=True)]


def active_participant_key(organization: Organization) -> ParticipantKey | None:
    return organization.participant_keys.filter(revoked_at__isnull=True).order_by("-version").first()


def user_search(qs: QuerySet[User], text: str) -> QuerySet[User]:
    return qs.filter(Q(username__icontains=text) | Q(email__icontains=text) | Q(last_name__icontains=text))
