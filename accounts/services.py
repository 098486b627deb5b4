"""Write-side services for organisations, users, invitations, keys and sign-in events.

Each service is keyword-only, runs in one transaction and writes its own audit event in it.
"""
from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import record

from . import keys
from .models import Invitation, Organization, ParticipantKey, User
from .permissions import grant, org_group, place_user_in_groups
from .roles import ROLES_BY_KIND, OrganizationKind, Role

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def _require_manage(actor: User, organization: Organization | None = None) -> None:
    allowed = actor.has_perm("accounts.manage_organization") or (
        organization is not None and actor.has_perm("accounts.manage_organization", organization)
    )
    if not allowed:
        raise PermissionDenied(_("Only platform admins can onboard or suspend participants."))


def _org_state(org: Organization) -> dict:
    return {"name": org.name, "slug": org.slug, "kind": org.kind, "status": org.status}


def _user_state(user: User) -> dict:
    return {
        "username": user.username, "email": user.email, "organization": user.organization_id,
        "role": user.role, "is_active": user.is_active, "language": user.language,
    }


@transaction.atomic
def organization_create(*, actor: User | None, name: str, kind: str, slug: str = "") -> Organization:
    if actor is not None:
        _require_manage(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("A name is required.")})
    if kind not in OrganizationKind.values:
        raise ValidationError({"kind": _("Unknown organisation kind.")})
    slug = slugify(slug or name)[:60]
    if not slug:
        raise ValidationError({"slug": _("The short name must contain letters or digits.")})
    if Organization.objects.filter(slug=slug).exists() or Organization.objects.filter(name=name).exists():
        raise ValidationError({"name": _("An organisation with this name or short name already exists.")})
    org = Organization.objects.create(name=name, slug=slug, kind=kind)
    grant(["accounts.view_organization"], org, org)
    if Role.AUDITOR in ROLES_BY_KIND[kind]:
        grant(["accounts.audit_organization"], org, org, roles=[Role.AUDITOR])
    managers = [role for role in ROLES_BY_KIND[kind] if role in (Role.ENTERPRISE_MANAGER, Role.LOAN_OFFICER)]
    if managers:  # they manage their organisation's own settings (e.g. who may audit it)
        grant(["accounts.change_organization"], org, org, roles=managers)
    for role in ROLES_BY_KIND[kind]:
        org_group(org, role)
    record(actor=actor, action="organization.create", obj=org, organization=org, after=_org_state(org))
    participant_key_issue(actor=actor, organization=org)
    return org


@transaction.atomic
def organization_set_status(*, actor: User, organization: Organization, status: str, reason: str = "") -> Organization:
    _require_manage(actor, organization)
    if status not in Organization.Status.values:
        raise ValidationError({"status": _("Unknown status.")})
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    if org.kind == OrganizationKind.OPERATOR and status == Organization.Status.SUSPENDED:
        raise ValidationError({"status": _("The platform operator cannot be suspended.")})
    if status == Organization.Status.SUSPENDED and not reason.strip():
        raise ValidationError({"reason": _("Give a reason for the suspension.")})
    if org.status == status:
        raise ValidationError({"status": _("The organisation is already %(status)s.") % {"status": org.get_status_display()}})
    before = _org_state(org)
    org.status = status
    org.status_reason = reason.strip()
    org.save(update_fields=["status", "status_reason"])
    action = "organization.suspend" if status == Organization.Status.SUSPENDED else "organization.reactivate"
    record(actor=actor, action=action, obj=org, organization=org, before=before, after=_org_state(org),
           payload={"reason": org.status_reason})
    return org


@transaction.atomic
def participant_key_issue(*, actor: User | None, organization: Organization) -> ParticipantKey:
    """Issue a new participant key pair for ``organization``; the previous one is revoked."""
    if actor is not None:
        _require_manage(actor, organization)
    Organization.objects.select_for_update().get(pk=organization.pk)
    previous = organization.participant_keys.filter(revoked_at__isnull=True)
    latest = organization.participant_keys.order_by("-version").first()
    version = 1 if latest is None else latest.version + 1
    now = timezone.now()
    revoked = list(previous.values_list("version", flat=True))
    previous.update(revoked_at=now)
    pair = keys.generate_key_pair()
    key = ParticipantKey.objects.create(
        organization=organization,
        version=version,
        signing_public_pem=pair.signing_public_pem,
        encryption_public_pem=pair.encryption_public_pem,
        signing_private_encrypted=keys.wrap_private_key(
            pair.signing_private_raw, org_slug=organization.slug, version=version, purpose="ed25519"),
        encryption_private_encrypted=keys.wrap_private_key(
            pair.encryption_private_raw, org_slug=organization.slug, version=version, purpose="x25519"),
        fingerprint=pair.fingerprint,
    )
    record(actor=actor, action="participant_key.issue", obj=key, organization=organization,
           after={"version": version, "fingerprint": key.fingerprint}, payload={"revoked_versions": revoked})
    return key


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, actor: User, organization: Organization, email: str, role: str) -> tuple[Invitation, str]:
    """Invite a person into ``organization`` with ``role``. Returns the invitation and its one-time token."""
    _require_manage(actor, organization)
    if not organization.is_active:
        raise ValidationError(_("The organisation is suspended; reactivate it before inviting users."))
    if role not in ROLES_BY_KIND[organization.kind]:
        raise ValidationError({"role": _("A %(kind)s cannot have the role %(role)s.") % {
            "kind": organization.get_kind_display(), "role": Role(role).label if role in Role.values else role}})
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization, email=email.strip().lower(), role=role, token_hash=_token_hash(token),
        created_by=actor, expires_at=timezone.now() + settings.INVITATION_TTL,
    )
    record(actor=actor, action="invitation.create", obj=invitation, organization=organization,
           after={"email": invitation.email, "role": role, "expires_at": invitation.expires_at.isoformat()})
    return invitation, token


def invitation_for_token(token: str) -> Invitation:
    """The usable invitation behind ``token``; a clear ValidationError if it is unknown, used, revoked or expired."""
    invitation = Invitation.objects.select_related("organization").filter(token_hash=_token_hash(token or "")).first()
    if invitation is None:
        raise ValidationError(_("This invitation link is not valid."), code="unknown")
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation has already been used."), code="used")
    if invitation.revoked_at is not None:
        raise ValidationError(_("This invitation was withdrawn."), code="revoked")
    if invitation.expires_at <= timezone.now():
        raise ValidationError(_("This invitation has expired; ask your administrator for a new one."), code="expired")
    if not invitation.organization.is_active:
        raise ValidationError(_("The organisation of this invitation is suspended."), code="suspended")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, username: str, password: str, first_name: str = "", last_name: str = "") -> User:
    invitation = invitation_for_token(token)
    # Lock the row so two simultaneous uses of one token cannot both succeed.
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation has already been used."), code="used")
    user = user_create(actor=None, organization=invitation.organization, role=invitation.role, username=username,
                       email=invitation.email, password=password, first_name=first_name, last_name=last_name,
                       via_invitation=invitation)
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user"])
    return user


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    _require_manage(actor, invitation.organization)
    if invitation.accepted_at or invitation.revoked_at:
        raise ValidationError(_("Only an open invitation can be withdrawn."))
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    record(actor=actor, action="invitation.revoke", obj=invitation, organization=invitation.organization)
    return invitation


@transaction.atomic
def user_create(*, actor: User | None, organization: Organization, role: str, username: str, password: str,
                email: str = "", first_name: str = "", last_name: str = "", via_invitation: Invitation | None = None,
                language: str = "en") -> User:
    if actor is not None:
        _require_manage(actor, organization)
    if role not in ROLES_BY_KIND[organization.kind]:
        raise ValidationError({"role": _("This role does not fit the organisation's kind.")})
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": _("A user name is required.")})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("This user name is taken.")})
    user = User(username=username, email=email, first_name=first_name, last_name=last_name,
                organization=organization, role=role, language=language if language in LANGUAGE_CODES else "en")
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise ValidationError({"username": _("This user name is taken.")}) from exc
    place_user_in_groups(user)
    # Colleagues see each other; platform admins see everyone through their global permission.
    grant(["accounts.view_user"], user, organization)
    record(actor=actor or user, action="user.create", obj=user, organization=organization, after=_user_state(user),
           payload={"invitation": via_invitation.pk if via_invitation else None})
    return user


@transaction.atomic
def user_set_active(*, actor: User, user: User, active: bool, reason: str = "") -> User:
    _require_manage(actor, user.organization)
    if user.pk == actor.pk:
        raise ValidationError(_("You cannot suspend your own account."))
    if not active and not reason.strip():
        raise ValidationError({"reason": _("Give a reason for the suspension.")})
    target = User.objects.select_for_update().get(pk=user.pk)
    if target.is_active == active:
        raise ValidationError(_("The user is already in that state."))
    before = _user_state(target)
    target.is_active = active
    target.save(update_fields=["is_active"])
    if not active:
        from rest_framework.authtoken.models import Token

        Token.objects.filter(user=target).delete()
    record(actor=actor, action="user.reactivate" if active else "user.suspend", obj=target,
           organization=target.organization, before=before, after=_user_state(target), payload={"reason": reason})
    return target


@transaction.atomic
def user_set_role(*, actor: User, user: User, role: str) -> User:
    """Change a member's role within their organisation: their role group (and so every permission granted
    to it) follows; their API tokens are withdrawn so the new role applies at once."""
    _require_manage(actor, user.organization)
    if user.pk == actor.pk:
        raise ValidationError(_("You cannot change your own role."))
    if role not in ROLES_BY_KIND[user.organization.kind]:
        raise ValidationError({"role": _("This role does not fit the organisation's kind.")})
    target = User.objects.select_for_update(of=("self",)).select_related("organization").get(pk=user.pk)
    if target.role == role:
        raise ValidationError({"role": _("The user already has this role.")})
    before = _user_state(target)
    target.role = role
    target.save(update_fields=["role"])
    place_user_in_groups(target)
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user=target).delete()
    record(actor=actor, action="user.role_change", obj=target, organization=target.organization, before=before,
           after=_user_state(target), payload={"from": before["role"], "to": role})
    return target


@transaction.atomic
def user_set_language(*, user: User, language: str) -> User:
    if language not in LANGUAGE_CODES:
        raise ValidationError({"language": _("Unsupported language.")})
    if user.language != language:
        before = _user_state(user)
        user.language = language
        user.save(update_fields=["language"])
        record(actor=user, action="user.language", obj=user, organization=user.organization, before=before,
               after=_user_state(user))
    return user


@transaction.atomic
def user_change_password(*, user: User, old_password: str, new_password: str) -> User:
    if not user.check_password(old_password):
        raise ValidationError({"old_password": _("Your current password is not correct.")})
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
    user.set_password(new_password)
    user.save(update_fields=["password"])
    record(actor=user, action="user.password_change", obj=user, organization=user.organization)
    return user


@transaction.atomic
def auth_login_succeeded(*, user: User, second_factor: bool) -> None:
    record(actor=user, action="auth.login", obj=user, organization=user.organization,
           payload={"second_factor": second_factor})


@transaction.atomic
def auth_login_failed(*, username: str, reason: str) -> None:
    user = User.objects.select_related("organization").filter(username__iexact=username or "").first()
    record(actor=None, action="auth.login_failed", obj=user, organization=user.organization if user else None,
           payload={"username": (username or "")[:150], "reason": reason})


@transaction.atomic
def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """An unconfirmed TOTP device for ``user`` (reused while the enrolment is unfinished)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


@transaction.atomic
def totp_enrolment_confirm(*, user: User, device: TOTPDevice, token: str) -> TOTPDevice:
    if device.user_id != user.pk or device.confirmed:
        raise ValidationError(_("No enrolment is in progress."))
    if not device.verify_token((token or "").strip()):
        raise ValidationError({"token": _("That code is not correct. Check the time on your phone and try again.")})
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    record(actor=user, action="user.totp_enrol", obj=user, organization=user.organization)
    return device


class SecondFactorThrottled(Exception):
    """Too many wrong codes in a row: django-otp makes the user wait before the next try."""


def totp_verify(*, user: User, token: str) -> TOTPDevice | None:
    """The confirmed device that accepts ``token`` (each code works once), or None.

    Raises SecondFactorThrottled while django-otp's back-off after wrong codes is running.
    """
    token = (token or "").strip()
    if not token:
        return None  # no code given: asked for, not counted as a wrong try
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        allowed, _details = device.verify_is_allowed()
        if not allowed:
            raise SecondFactorThrottled
        if token.isdigit() and device.verify_token(token):
            return device
        if not token.isdigit():
            device.throttle_increment()
    return None
