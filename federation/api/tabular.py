"""REST API of tabular federated learning: a lender's loan books / an enterprise's production records
(list, detail, upload through ``federation.tabular.dataset_upload``). Only the owner's members see an
upload (404 for everyone else); the file's content is never returned."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from portal.api.viewsets import ScopedReadOnlyViewSet

from .. import tabular
from ..tabular_models import TabularDataset


class TabularDatasetSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    kind = serializers.CharField(read_only=True, help_text="loan_book or production")

    class Meta:
        model = TabularDataset
        fields = ["id", "uuid", "organization", "kind", "name", "column_map", "sha256", "rows", "summary",
                  "uploaded_by", "created_at"]
        read_only_fields = fields


class TabularDatasetUploadSerializer(serializers.Serializer):
    # A plain string (the service checks it): "kind" choice sets of other apps would collide in the schema.
    kind = serializers.CharField(help_text="loan_book (lenders) or production (enterprises)")
    name = serializers.CharField(max_length=200)
    file = serializers.FileField()
    column_map = serializers.JSONField(required=False, default=dict,
                                       help_text="Schema column name -> your CSV's column name.")


class TabularDatasetViewSet(ScopedReadOnlyViewSet):
    """Your organisation's uploads for tabular federated tasks."""

    serializer_class = TabularDatasetSerializer
    filterset_fields = ["kind"]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return TabularDataset.objects.select_related("organization", "uploaded_by").defer("content").order_by(
            "-created_at")

    @extend_schema(request=TabularDatasetUploadSerializer, responses={201: TabularDatasetSerializer})
    def create(self, request):
        data = TabularDatasetUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if not isinstance(values["column_map"], dict):
            raise serializers.ValidationError({"column_map": ["Give a JSON object."]})
        dataset = tabular.dataset_upload(actor=request.user, kind=values["kind"], name=values["name"],
                                         content=values["file"].read(), column_map=values["column_map"])
        return Response(TabularDatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)
