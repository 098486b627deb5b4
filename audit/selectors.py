"""What auditors (and platform admins) may read of the audit log."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import Organization
from accounts.permissions import objects_for

from .models import AuditEvent


def audited_organizations(*, user) -> QuerySet[Organization]:
    """Organisations whose log ``user`` may read (own organisation for its auditors, explicit grants)."""
    return objects_for(user, "accounts.audit_organization", Organization.objects.all())


def event_list(*, user) -> QuerySet[AuditEvent]:
    orgs = audited_organizations(user=user)
    scope = Q(organization__in=orgs.values("pk"))
    if user.has_perm("accounts.audit_organization"):  # global: platform events too
        scope |= Q(organization__isnull=True)
    return AuditEvent.objects.filter(scope).order_by("-sequence")


def event_get(*, user, sequence: int) -> AuditEvent:
    return event_list(user=user).get(sequence=sequence)


def object_history(*, user, object_type: str, object_id: str) -> QuerySet[AuditEvent]:
    return event_list(user=user).filter(object_type=object_type, object_id=object_id).order_by("sequence")


def audit_firm_directory() -> QuerySet[Organization]:
    """Audit firms are a public directory: any organisation may choose one to grant audit access."""
    from accounts.roles import OrganizationKind

    return Organization.objects.filter(kind=OrganizationKind.AUDIT_FIRM, status=Organization.Status.ACTIVE)


def audit_firms_with_access(organization: Organization) -> list[Organization]:
    from guardian.shortcuts import get_groups_with_perms

    from accounts.permissions import org_group_name
    from accounts.roles import Role

    group_names = set(get_groups_with_perms(organization, attach_perms=False).values_list("name", flat=True))
    return [firm for firm in audit_firm_directory() if org_group_name(firm.pk, Role.AUDITOR) in group_names
            and firm.pk != organization.pk]


def verification_list(*, user):
    from .models import ChainVerification

    return ChainVerification.objects.filter(requested_by=user)
