from rest_framework import serializers

from ..models import Invitation, Organization, ParticipantKey, User
from ..roles import OrganizationKind, Role


class OrganizationSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "kind", "status", "status_reason", "created_at", "member_count"]
        read_only_fields = ["status", "status_reason", "created_at", "member_count"]
        extra_kwargs = {"slug": {"required": False, "validators": []}, "name": {"validators": []}}


class OrganizationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=60, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=OrganizationKind.choices)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class UserSerializer(serializers.ModelSerializer):
    organization = serializers.PrimaryKeyRelatedField(read_only=True)
    requires_second_factor = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "organization", "role", "language",
                  "is_active", "requires_second_factor", "date_joined", "last_login"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invitation
        fields = ["id", "organization", "email", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
        read_only_fields = fields


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField()
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class ParticipantKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ParticipantKey
        fields = ["id", "organization", "version", "signing_public_pem", "encryption_public_pem", "fingerprint",
                  "created_at", "revoked_at"]
        read_only_fields = fields


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(write_only=True)
    otp_token = serializers.CharField(required=False, allow_blank=True, default="",
                                      help_text="TOTP code; required for loan officers, auditors and admins.")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class LanguageSerializer(serializers.Serializer):
    language = serializers.CharField()
