"""Demo organisations and users: an operator admin, two enterprises, two lenders, an audit firm."""
from __future__ import annotations

import base64

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.demo import DEMO_PASSWORD, DemoContext

from . import services
from .models import Organization, User
from .roles import OrganizationKind, Role

ORGANIZATIONS = [
    ("operator", "PressTrust Operations", "presstrust-ops", OrganizationKind.OPERATOR),
    ("ent1", "Huadong Stamping Works", "huadong-stamping", OrganizationKind.ENTERPRISE),
    ("ent2", "Rhein Pressen GmbH", "rhein-pressen", OrganizationKind.ENTERPRISE),
    ("bank1", "Jiangnan Industrial Bank", "jiangnan-bank", OrganizationKind.LENDER),
    ("bank2", "Capital Equipment Finance", "capital-equipment", OrganizationKind.LENDER),
    ("audit", "Veritas Audit Partners", "veritas-audit", OrganizationKind.AUDIT_FIRM),
]

USERS = [
    ("admin", "operator", Role.ADMIN, "Ada", "Admin"),
    ("ent1_manager", "ent1", Role.ENTERPRISE_MANAGER, "Li", "Wei"),
    ("ent2_manager", "ent2", Role.ENTERPRISE_MANAGER, "Jonas", "Becker"),
    ("bank1_officer1", "bank1", Role.LOAN_OFFICER, "Zhang", "Min"),
    ("bank1_officer2", "bank1", Role.LOAN_OFFICER, "Chen", "Jing"),
    ("bank2_officer1", "bank2", Role.LOAN_OFFICER, "Maria", "Rossi"),
    ("bank2_officer2", "bank2", Role.LOAN_OFFICER, "Tom", "Hughes"),
    ("auditor", "audit", Role.AUDITOR, "Ana", "Auditor"),
]


@transaction.atomic
def seed(context: DemoContext) -> None:
    for key, name, slug, kind in ORGANIZATIONS:
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            org = services.organization_create(actor=None, name=name, slug=slug, kind=kind)
        context.organizations[key] = org
    for username, org_key, role, first, last in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = services.user_create(actor=None, organization=context.organizations[org_key], role=role,
                                        username=username, password=DEMO_PASSWORD, first_name=first,
                                        last_name=last, email=f"{username}@example.com")
        context.users[username] = user
        if user.requires_second_factor:
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="demo authenticator", confirmed=True)
            context.totp_secrets[username] = base64.b32encode(device.bin_key).decode().rstrip("=")
    _grant_demo_audit_access(context)


def _grant_demo_audit_access(context: DemoContext) -> None:
    """The demo auditor's firm reads the logs of ent1 and bank1 (granted by their own managers)."""
    from audit.services import audit_access_grant

    firm, auditor = context.organizations["audit"], context.users["auditor"]
    for org_key, granter in (("ent1", "ent1_manager"), ("bank1", "bank1_officer1")):
        org = context.organizations[org_key]
        if not auditor.has_perm("accounts.audit_organization", org):
            audit_access_grant(actor=context.users[granter], organization=org, audit_firm=firm)
            auditor = User.objects.get(pk=auditor.pk)  # fresh permission cache
    context.notes.append(f"Audit: auditor ({firm.name}) may read the logs of {context.organizations['ent1'].name} "
                         f"and {context.organizations['bank1'].name}: filter, verify the chain, export evidence.")
