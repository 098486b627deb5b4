from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import selectors, services
from ..filtersets import AuditEventFilterSet
from .serializers import AuditEventSerializer, ChainVerificationSerializer


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Audit events of the organisations that granted the caller audit access."""

    serializer_class = AuditEventSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditEventFilterSet
    lookup_field = "sequence"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            from ..models import AuditEvent

            return AuditEvent.objects.none()
        return selectors.event_list(user=self.request.user).select_related("organization")

    @extend_schema(parameters=[OpenApiParameter("first", int, required=True), OpenApiParameter("last", int, required=True)],
                   responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """A signed evidence bundle (ZIP) of events first..last; others' events are redacted to their links."""
        try:
            first, last = int(request.query_params["first"]), int(request.query_params["last"])
        except (KeyError, ValueError):
            raise serializers.ValidationError({"detail": "first and last must be whole numbers"})
        bundle = services.evidence_export(actor=request.user, first_sequence=first, last_sequence=last)
        response = HttpResponse(bundle, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="presstrust-audit-{first}-{last}.zip"'
        return response

    @extend_schema(responses={(200, "application/x-pem-file"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"], url_path="platform-key")
    def platform_key(self, request):
        return HttpResponse(services.platform_public_key_pem(), content_type="application/x-pem-file")


class ChainVerificationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Verification runs of the whole chain requested by the caller; POST starts one."""

    serializer_class = ChainVerificationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            from ..models import ChainVerification

            return ChainVerification.objects.none()
        return selectors.verification_list(user=self.request.user)

    @extend_schema(request=None, responses={202: ChainVerificationSerializer})
    def create(self, request):
        verification = services.chain_verification_request(actor=request.user)
        return Response(ChainVerificationSerializer(verification).data, status=status.HTTP_202_ACCEPTED)
