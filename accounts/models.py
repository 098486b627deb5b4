from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .roles import SECOND_FACTOR_ROLES, OrganizationKind, Role


class Organization(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("short name"), max_length=60, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganizationKind.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        permissions = [
            ("manage_organization", "Can onboard, suspend and reactivate the organisation"),
            ("audit_organization", "Can read the organisation's audit log"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def queue_name(self) -> str:
        from portal.celery import participant_queue

        return participant_queue(self.slug)


class User(AbstractUser):
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="members",
        verbose_name=_("organisation"),
    )
    role = models.CharField(_("role"), max_length=30, choices=Role.choices, blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")

    @property
    def requires_second_factor(self) -> bool:
        return self.role in SECOND_FACTOR_ROLES

    @property
    def is_platform_admin(self) -> bool:
        return self.role == Role.ADMIN and self.organization is not None and (
            self.organization.kind == OrganizationKind.OPERATOR
        )


class Invitation(models.Model):
    """A one-time link that lets a person create their account in an organisation with a role."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)  # SHA-256 of the token; the token is never stored
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")


class ParticipantKey(models.Model):
    """An organisation's participant key pair: Ed25519 (signing) and X25519 (encryption).

    The public halves are shown to everyone who works with the organisation; the private halves are
    stored encrypted at rest (AES-GCM under the platform's key-encryption key) and are only decrypted
    by that organisation's own workers.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="participant_keys")
    version = models.PositiveIntegerField()
    signing_public_pem = models.TextField()
    encryption_public_pem = models.TextField()
    signing_private_encrypted = models.BinaryField()
    encryption_private_encrypted = models.BinaryField()
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organization", "-version"]
        constraints = [models.UniqueConstraint(fields=["organization", "version"], name="participant_key_version")]
        verbose_name = _("participant key")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
