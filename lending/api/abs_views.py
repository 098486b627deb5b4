"""ABS API: asset pools (versions), capital structures (designed or sized), simulation runs with their status,
re-runs and what-ifs. Another lender's objects are 404; a read-only caller (the lender's auditor) gets 403 on
actions; the services decide who may create what."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from portal.api.viewsets import ScopedReadOnlyViewSet

from .. import abs_selectors as selectors
from .. import abs_services as services
from ..abs_models import AssetPool, CapitalStructure
from . import abs_serializers as s


def _visible(getter, user, pk, field: str):
    """An object of the caller's scope named in a request body, or a 400 naming the field."""
    try:
        return getter(user=user, pk=pk)
    except (AssetPool.DoesNotExist, CapitalStructure.DoesNotExist):
        raise ValidationError({field: ["No such object of your lender."]}) from None


class AssetPoolViewSet(ScopedReadOnlyViewSet):
    """Pool versions of the caller's lender (the latest of each pool unless ``?all_versions=1``)."""

    object_permissions = {"revise": "lending.change_assetpool", "size": "lending.change_assetpool",
                          "versions": "lending.view_assetpool"}

    def get_queryset(self):
        latest_only = self.action == "list" and self.request.query_params.get("all_versions") != "1"
        queryset = selectors.pool_list(user=self.request.user, latest_only=latest_only)
        if self.action != "list":
            queryset = queryset.prefetch_related("members")
        return queryset

    def get_serializer_class(self):
        return s.AssetPoolSerializer if self.action == "list" else s.AssetPoolDetailSerializer

    @extend_schema(request=s.PoolCreateSerializer, responses={201: s.AssetPoolDetailSerializer})
    def create(self, request):
        data = s.PoolCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pool = services.pool_create(actor=request.user, name=data.validated_data["name"],
                                    description=data.validated_data["description"],
                                    facility_ids=data.validated_data["facilities"])
        return Response(s.AssetPoolDetailSerializer(pool).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PoolReviseSerializer, responses={201: s.AssetPoolDetailSerializer})
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        """A new version: the given facilities (default the same) with their inputs as they stand now."""
        pool = self.get_object()
        data = s.PoolReviseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        revised = services.pool_revise(actor=request.user, pool=pool,
                                       facility_ids=data.validated_data.get("facilities"),
                                       description=data.validated_data.get("description"))
        return Response(s.AssetPoolDetailSerializer(revised).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.AssetPoolSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        pool = self.get_object()
        return Response(s.AssetPoolSerializer(selectors.pool_versions(user=request.user, pool=pool), many=True).data)

    @extend_schema(request=s.StructureSizeSerializer, responses={201: s.CapitalStructureSerializer})
    @action(detail=True, methods=["post"])
    def size(self, request, pk=None):
        """A structure sized to targets on this pool: from the top, each tranche the largest whose probability
        of loss (or expected loss) stays under its target."""
        pool = self.get_object()
        data = s.StructureSizeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        structure = services.structure_size(
            actor=request.user, pool=pool, name=values["name"], equity_name=values["equity_name"],
            metric=values["metric"], tranches=[dict(t) for t in values["tranches"]], scenarios=values["scenarios"],
            seed=values.get("seed"), settings=values["settings"] or {})
        return Response(s.CapitalStructureSerializer(structure).data, status=status.HTTP_201_CREATED)


class CapitalStructureViewSet(ScopedReadOnlyViewSet):
    """Capital structure versions of the caller's lender."""

    serializer_class = s.CapitalStructureSerializer
    object_permissions = {"revise": "lending.change_capitalstructure"}

    def get_queryset(self):
        return selectors.structure_list(user=self.request.user)

    @extend_schema(request=s.StructureCreateSerializer, responses={201: s.CapitalStructureSerializer})
    def create(self, request):
        data = s.StructureCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pool = _visible(selectors.pool_get, request.user, data.validated_data["pool"], "pool")
        structure = services.structure_create(actor=request.user, pool=pool, name=data.validated_data["name"],
                                              definition=data.validated_data["definition"])
        return Response(s.CapitalStructureSerializer(structure).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.StructureReviseSerializer, responses={201: s.CapitalStructureSerializer})
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        structure = self.get_object()
        data = s.StructureReviseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pool = None
        if data.validated_data.get("pool") is not None:
            pool = _visible(selectors.pool_get, request.user, data.validated_data["pool"], "pool")
        revised = services.structure_revise(actor=request.user, structure=structure,
                                            definition=data.validated_data["definition"], pool=pool)
        return Response(s.CapitalStructureSerializer(revised).data, status=status.HTTP_201_CREATED)


class SimulationRunViewSet(ScopedReadOnlyViewSet):
    """Simulation and what-if runs of the caller's lender; ``status`` is the light endpoint to poll."""

    object_permissions = {"rerun": "lending.change_simulationrun", "what_if": "lending.change_simulationrun",
                          "status": "lending.view_simulationrun"}

    def get_queryset(self):
        if self.action == "list":
            return selectors.run_list(user=self.request.user)
        return selectors.run_list(user=self.request.user).defer(None)

    def get_serializer_class(self):
        return s.SimulationRunSerializer if self.action == "list" else s.SimulationRunDetailSerializer

    @extend_schema(request=s.RunCreateSerializer, responses={201: s.SimulationRunSerializer})
    def create(self, request):
        data = s.RunCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        pool = _visible(selectors.pool_get, request.user, values["pool"], "pool")
        structure = _visible(selectors.structure_get, request.user, values["structure"], "structure")
        run = services.run_request(actor=request.user, pool=pool, structure=structure, scenarios=values["scenarios"],
                                   seed=values.get("seed"))
        return Response(s.SimulationRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.RunStatusSerializer)
    @action(detail=True, methods=["get"])
    def status(self, request, pk=None):
        return Response(s.RunStatusSerializer(self.get_object()).data)

    @extend_schema(request=None, responses={201: s.SimulationRunSerializer})
    @action(detail=True, methods=["post"])
    def rerun(self, request, pk=None):
        """The same inputs and seed again (the results must be identical)."""
        run = services.run_rerun(actor=request.user, run=self.get_object())
        return Response(s.SimulationRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.WhatIfSerializer, responses={201: s.SimulationRunSerializer})
    @action(detail=True, methods=["post"], url_path="what-if")
    def what_if(self, request, pk=None):
        """Re-run with a changed correlation, PDs or every pledged press one alarm level worse (same seed)."""
        base = self.get_object()
        data = s.WhatIfSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.run_what_if(actor=request.user, run=base, **data.validated_data)
        return Response(s.SimulationRunSerializer(run).data, status=status.HTTP_201_CREATED)
