from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from portal.admin import ReadOnlyAdmin

from .models import Invitation, Organization, ParticipantKey, User


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "kind", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "slug"]


@admin.register(User)
class UserAdmin(ReadOnlyAdmin, BaseUserAdmin):
    list_display = ["username", "email", "organization", "role", "is_active"]
    list_filter = ["role", "is_active", "organization"]
    fieldsets = BaseUserAdmin.fieldsets + (("PressTrust", {"fields": ("organization", "role", "language")}),)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["email", "organization", "role", "expires_at", "accepted_at", "revoked_at"]
    exclude = ["token_hash"]


@admin.register(ParticipantKey)
class ParticipantKeyAdmin(ReadOnlyAdmin):
    list_display = ["organization", "version", "fingerprint", "created_at", "revoked_at"]
    exclude = ["signing_private_encrypted", "encryption_private_encrypted"]
