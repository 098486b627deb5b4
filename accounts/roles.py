"""Organisation kinds, user roles and which role fits which kind of organisation."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganizationKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    LENDER = "lender", _("Lender")
    AUDIT_FIRM = "audit_firm", _("Audit firm")
    OPERATOR = "operator", _("Platform operator")


class Role(models.TextChoices):
    ENTERPRISE_MANAGER = "enterprise_manager", _("Enterprise manager")
    LOAN_OFFICER = "loan_officer", _("Loan officer")
    AUDITOR = "auditor", _("Auditor")
    ADMIN = "admin", _("Admin")


ROLES_BY_KIND: dict[str, tuple[str, ...]] = {
    OrganizationKind.ENTERPRISE: (Role.ENTERPRISE_MANAGER, Role.AUDITOR),
    OrganizationKind.LENDER: (Role.LOAN_OFFICER, Role.AUDITOR),
    OrganizationKind.AUDIT_FIRM: (Role.AUDITOR,),
    OrganizationKind.OPERATOR: (Role.ADMIN,),
}

# Privileged roles must pass a TOTP second factor on every login.
SECOND_FACTOR_ROLES = frozenset({Role.LOAN_OFFICER, Role.AUDITOR, Role.ADMIN})

# Organisations that take part in federated learning and get a participant queue (every organisation,
# of any kind, holds a participant key pair: audit firms and the operator sign with theirs too).
PARTICIPANT_KINDS = frozenset({OrganizationKind.ENTERPRISE, OrganizationKind.LENDER})
