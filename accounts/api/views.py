from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from portal.api.viewsets import ScopedReadOnlyViewSet

from .. import selectors, services
from ..models import Organization, User
from . import serializers as s


class OrganizationViewSet(ScopedReadOnlyViewSet):
    """Organisations the user may see: their own, and all of them for platform admins."""

    serializer_class = s.OrganizationSerializer
    filterset_fields = ["kind", "status"]
    object_permissions = {
        "suspend": "accounts.manage_organization",
        "reactivate": "accounts.manage_organization",
        "invite": "accounts.manage_organization",
        "issue_key": "accounts.manage_organization",
        "keys": "accounts.view_organization",
    }

    def get_queryset(self):
        return Organization.objects.all().order_by("name")

    @extend_schema(request=s.OrganizationCreateSerializer, responses={201: s.OrganizationSerializer})
    def create(self, request):
        data = s.OrganizationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = services.organization_create(actor=request.user, **data.validated_data)
        return Response(s.OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ReasonSerializer, responses=s.OrganizationSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        return self._set_status(request, Organization.Status.SUSPENDED)

    @extend_schema(request=s.ReasonSerializer, responses=s.OrganizationSerializer)
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        return self._set_status(request, Organization.Status.ACTIVE)

    def _set_status(self, request, new_status):
        org = self.get_object()
        data = s.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = services.organization_set_status(actor=request.user, organization=org, status=new_status,
                                               reason=data.validated_data["reason"])
        return Response(s.OrganizationSerializer(org).data)

    @extend_schema(request=s.InvitationCreateSerializer, responses={201: s.InvitationSerializer})
    @action(detail=True, methods=["post"])
    def invite(self, request, pk=None):
        org = self.get_object()
        data = s.InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, token = services.invitation_create(actor=request.user, organization=org, **data.validated_data)
        body = dict(s.InvitationSerializer(invitation).data)
        body["token"] = token  # shown once, to the admin who invites
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.ParticipantKeySerializer(many=True))
    @action(detail=True, methods=["get"])
    def keys(self, request, pk=None):
        org = self.get_object()
        keys = selectors.participant_key_list(user=request.user, organization=org)
        return Response(s.ParticipantKeySerializer(keys, many=True).data)

    @extend_schema(request=None, responses={201: s.ParticipantKeySerializer})
    @action(detail=True, methods=["post"], url_path="issue-key")
    def issue_key(self, request, pk=None):
        org = self.get_object()
        key = services.participant_key_issue(actor=request.user, organization=org)
        return Response(s.ParticipantKeySerializer(key).data, status=status.HTTP_201_CREATED)


class UserViewSet(ScopedReadOnlyViewSet):
    """Users the caller may see: colleagues, and everyone for platform admins."""

    serializer_class = s.UserSerializer
    filterset_fields = ["organization", "role", "is_active"]
    object_permissions = {"suspend": "accounts.manage_organization", "reactivate": "accounts.manage_organization",
                          "role": "accounts.manage_organization"}

    def get_queryset(self):
        return User.objects.select_related("organization").order_by("username")

    def _set_active(self, request, active: bool):
        target = self.get_object()
        if not (request.user.has_perm("accounts.manage_organization", target.organization)
                or request.user.has_perm("accounts.manage_organization")):
            self.permission_denied(request, message=_("Only platform admins can suspend users."))
        data = s.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target = services.user_set_active(actor=request.user, user=target, active=active,
                                          reason=data.validated_data["reason"])
        return Response(s.UserSerializer(target).data)

    @extend_schema(request=s.ReasonSerializer, responses=s.UserSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        return self._set_active(request, False)

    @extend_schema(request=s.ReasonSerializer, responses=s.UserSerializer)
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        return self._set_active(request, True)

    @extend_schema(request=s.RoleSerializer, responses=s.UserSerializer)
    @action(detail=True, methods=["post"])
    def role(self, request, pk=None):
        target = self.get_object()
        data = s.RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target = services.user_set_role(actor=request.user, user=target, role=data.validated_data["role"])
        return Response(s.UserSerializer(target).data)

    @extend_schema(responses=s.UserSerializer)
    @action(detail=False, methods=["get"])
    def me(self, request):
        return Response(s.UserSerializer(request.user).data)

    @extend_schema(request=s.LanguageSerializer, responses=s.UserSerializer)
    @action(detail=False, methods=["post"], url_path="me/language")
    def language(self, request):
        data = s.LanguageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_set_language(user=request.user, language=data.validated_data["language"])
        return Response(s.UserSerializer(user).data)


@extend_schema(request=s.TokenObtainSerializer, responses={200: s.TokenSerializer})
@api_view(["POST"])
@permission_classes([AllowAny])
def token_obtain(request):
    """Exchange user name, password (and the TOTP code for privileged roles) for an API token."""
    data = s.TokenObtainSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    username = data.validated_data["username"]
    user = authenticate(request._request, username=username, password=data.validated_data["password"])
    if user is None:
        locked = getattr(request._request, "axes_locked_out", False)
        services.auth_login_failed(username=username, reason="locked_out" if locked else "bad_credentials")
        if locked:
            return Response({"detail": _("Too many failed sign-in attempts; this account is locked for a while.")},
                            status=status.HTTP_429_TOO_MANY_REQUESTS)
        return Response({"detail": _("The user name or password is not correct.")}, status=status.HTTP_401_UNAUTHORIZED)
    if user.organization_id and not user.organization.is_active:
        services.auth_login_failed(username=username, reason="organization_suspended")
        return Response({"detail": _("Your organisation is suspended.")}, status=status.HTTP_403_FORBIDDEN)
    if user.requires_second_factor:
        try:
            device = services.totp_verify(user=user, token=data.validated_data["otp_token"])
        except services.SecondFactorThrottled:
            return Response({"otp_token": [_("Too many wrong codes; wait a few seconds and try again.")]},
                            status=status.HTTP_429_TOO_MANY_REQUESTS)
        if device is None:
            services.auth_login_failed(username=username, reason="bad_second_factor")
            return Response({"otp_token": [_("A valid, unused authenticator code is required for this role.")]},
                            status=status.HTTP_401_UNAUTHORIZED)
    token, _created = Token.objects.get_or_create(user=user)
    services.auth_login_succeeded(user=user, second_factor=user.requires_second_factor)
    return Response({"token": token.key})


@extend_schema(request=s.InvitationAcceptSerializer, responses={201: s.UserSerializer})
@api_view(["POST"])
@permission_classes([AllowAny])
def invitation_accept(request):
    data = s.InvitationAcceptSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    user = services.invitation_accept(**data.validated_data)
    return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)



