import io

import numpy as np
from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import parsers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from accounts.models import Organization
from portal.api.viewsets import ScopedReadOnlyViewSet

from .. import selectors, services
from ..filtersets import PressFilterSet, SensorBatchFilterSet
from ..models import HealthShare, Press, SensorBatch
from . import serializers as s


class PressViewSet(ScopedReadOnlyViewSet):
    """Presses of the caller's enterprise (auditors read; managers register, edit, retire, upload)."""

    serializer_class = s.PressSerializer
    filterset_class = PressFilterSet
    object_permissions = {"partial_update": "devices.change_press", "retire": "devices.change_press",
                          "batches": "devices.view_press", "shares": "devices.view_press"}

    def get_queryset(self):
        return selectors.press_list(user=self.request.user).prefetch_related("components", "channels__component")

    def create(self, request):
        data = s.PressSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if request.user.organization is None:
            self.permission_denied(request)
        press = services.press_register(actor=request.user, organization=request.user.organization,
                                        **data.service_kwargs())
        return Response(s.PressSerializer(press).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        press = self.get_object()
        data = s.PressSerializer(press, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        press = services.press_update(actor=request.user, press=press, **data.service_kwargs())
        return Response(s.PressSerializer(press).data)

    @extend_schema(request=s.RetireSerializer, responses=s.PressSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        press = self.get_object()
        data = s.RetireSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        press = services.press_retire(actor=request.user, press=press, reason=data.validated_data["reason"])
        return Response(s.PressSerializer(press).data)

    @extend_schema(methods=["GET"], responses=s.SensorBatchSerializer(many=True))
    @extend_schema(methods=["POST"], request={"multipart/form-data": s.BatchUploadSerializer},
                   responses={201: s.SensorBatchSerializer, 400: s.BatchErrorSerializer, 413: s.BatchErrorSerializer})
    @action(detail=True, methods=["get", "post"], parser_classes=[parsers.MultiPartParser, parsers.FormParser,
                                                                  parsers.JSONParser])
    def batches(self, request, pk=None):
        """List the press's batches, or upload one (multipart): validated whole before anything is kept."""
        press = self.get_object()
        if request.method == "GET":
            queryset = SensorBatchFilterSet(request.query_params, queryset=selectors.batch_list(user=request.user,
                                                                                              press=press)).qs
            page = self.paginate_queryset(queryset)
            return self.get_paginated_response(s.SensorBatchSerializer(page, many=True).data)
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.SENSOR_UPLOAD_MAX_BYTES + 1_000_000:
            return Response({"code": "too_large", "message": "The upload is larger than the limit.", "row": None,
                             "column": None, "channel": None}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        if not request.user.has_perm("devices.upload_batch", press):
            self.permission_denied(request)
        data = s.BatchUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mapping = data.validated_data.get("channel_mapping")
        if mapping is not None and not (isinstance(mapping, dict) and all(isinstance(v, str) for v in mapping.values())):
            raise ValidationError({"channel_mapping": ["Give an object {\"file column\": \"channel name\"}."]})
        try:
            batch = services.batch_ingest(actor=request.user, press=press, uploaded_file=data.validated_data["file"],
                                          started_at=data.validated_data["started_at"],
                                          sampling_rate_hz=data.validated_data.get("sampling_rate_hz"),
                                          stroke_rate_spm=data.validated_data.get("stroke_rate_spm"),
                                          load_percent=data.validated_data.get("load_percent"),
                                          channel_mapping=mapping)
        except services.BatchRejected as rejected:
            return Response(rejected.detail, status=status.HTTP_400_BAD_REQUEST)
        return Response(s.SensorBatchSerializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses=s.HealthShareSerializer(many=True))
    @extend_schema(methods=["POST"], request=s.HealthShareCreateSerializer, responses={201: s.HealthShareSerializer})
    @action(detail=True, methods=["get", "post"])
    def shares(self, request, pk=None):
        """Which lenders see this press's health summary; POST grants one (managers only)."""
        press = self.get_object()
        if not request.user.has_perm("devices.change_press", press):
            self.permission_denied(request)
        if request.method == "GET":
            return Response(s.HealthShareSerializer(selectors.health_share_list(press=press), many=True).data)
        data = s.HealthShareCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lender = services.lender_directory().filter(slug=data.validated_data["lender"]).first()
        if lender is None:
            raise ValidationError({"lender": ["No active lender with that short name."]})
        share = services.health_share_grant(actor=request.user, press=press, lender=lender,
                                            expires_at=data.validated_data.get("expires_at"))
        return Response(s.HealthShareSerializer(share).data, status=status.HTTP_201_CREATED)


class SensorBatchViewSet(ScopedReadOnlyViewSet):
    """Accepted batches the caller may see (the enterprise's own managers and auditors)."""

    serializer_class = s.SensorBatchSerializer
    filterset_class = SensorBatchFilterSet
    object_permissions = {"samples": "devices.download_sensorbatch"}

    def get_queryset(self):
        return SensorBatch.objects.select_related("press").order_by("-started_at")

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def samples(self, request, pk=None):
        """The stored samples as .npz (float32 `samples`, `channel_names`); enterprise managers only."""
        batch = self.get_object()
        samples, names = services.batch_samples(actor=request.user, batch=batch)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, samples=samples, channel_names=np.array(names))
        return HttpResponse(buffer.getvalue(), content_type="application/octet-stream")


class HealthShareViewSet(ScopedReadOnlyViewSet):
    serializer_class = s.HealthShareSerializer
    object_permissions = {"revoke": "devices.change_press"}

    def get_queryset(self):
        presses = selectors.press_list(user=self.request.user).values("pk")
        return HealthShare.objects.filter(press__in=presses).select_related("lender")

    def filter_queryset(self, queryset):
        return queryset  # scoped by the presses the caller sees

    def check_object_permissions(self, request, obj):
        if not request.user.has_perm("devices.change_press", obj.press):
            raise NotFound  # shares are the managers' business only

    @extend_schema(request=None, responses=s.HealthShareSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        share = services.health_share_revoke(actor=request.user, share=self.get_object())
        return Response(s.HealthShareSerializer(share).data)


