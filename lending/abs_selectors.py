"""Read-side queries for ABS, scoped by object permissions: a lender's officers and auditors see its pools,
structures and runs; everyone else sees none (lists are filtered, so nothing leaks)."""
from __future__ import annotations

from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery

from accounts.permissions import objects_for

from .abs_models import AssetPool, CapitalStructure, PoolFacility, SimulationRun
from .models import Facility, RiskAssessment


def _latest_version(model) -> Subquery:
    return Subquery(model.objects.filter(organization=OuterRef("organization"), name=OuterRef("name"))
                    .order_by("-version").values("version")[:1], output_field=IntegerField())


def pool_list(*, user, latest_only: bool = True, search: str = "") -> QuerySet[AssetPool]:
    qs = objects_for(user, "lending.view_assetpool", AssetPool.objects.select_related("organization", "created_by"))
    qs = qs.annotate(latest_version=_latest_version(AssetPool))
    if latest_only:
        qs = qs.filter(version=F("latest_version"))
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return qs.order_by("name", "-version")


def pool_get(*, user, pk) -> AssetPool:
    """The pool version if ``user`` may see it; raises AssetPool.DoesNotExist otherwise (views answer 404)."""
    return pool_list(user=user, latest_only=False).get(pk=pk)


def pool_versions(*, user, pool: AssetPool) -> QuerySet[AssetPool]:
    return pool_list(user=user, latest_only=False).filter(organization=pool.organization, name=pool.name)


def pool_members(*, pool: AssetPool) -> QuerySet[PoolFacility]:
    return pool.members.select_related("facility", "assessment").order_by("reference")


def structure_list(*, user, pool: AssetPool | None = None, latest_only: bool = False) -> QuerySet[CapitalStructure]:
    qs = objects_for(user, "lending.view_capitalstructure",
                     CapitalStructure.objects.select_related("pool", "organization", "created_by"))
    qs = qs.annotate(latest_version=_latest_version(CapitalStructure))
    if pool is not None:
        qs = qs.filter(pool=pool)
    if latest_only:
        qs = qs.filter(version=F("latest_version"))
    return qs.order_by("name", "-version")


def structure_get(*, user, pk) -> CapitalStructure:
    return structure_list(user=user).get(pk=pk)


def structure_versions(*, user, structure: CapitalStructure) -> QuerySet[CapitalStructure]:
    return structure_list(user=user).filter(organization=structure.organization, name=structure.name)


def run_list(*, user, pool: AssetPool | None = None, structure: CapitalStructure | None = None,
             kind: str | None = None) -> QuerySet[SimulationRun]:
    qs = objects_for(user, "lending.view_simulationrun",
                     SimulationRun.objects.select_related("pool", "structure", "requested_by", "organization")
                     .defer("inputs", "results"))
    if pool is not None:
        qs = qs.filter(pool=pool)
    if structure is not None:
        qs = qs.filter(structure=structure)
    if kind is not None:
        qs = qs.filter(kind=kind)
    return qs.order_by("-created_at", "-pk")


def run_get(*, user, pk) -> SimulationRun:
    return objects_for(user, "lending.view_simulationrun",
                       SimulationRun.objects.select_related("pool", "structure", "requested_by", "base_run",
                                                            "organization")).get(pk=pk)


def run_what_ifs(*, user, run: SimulationRun) -> QuerySet[SimulationRun]:
    return run_list(user=user, kind=SimulationRun.Kind.WHAT_IF).filter(base_run=run)


def pool_candidates(*, user, search: str = "", sector: str = "", currency: str = "",
                    max_grade: int | None = None) -> QuerySet[Facility]:
    """The facilities a loan officer may put into a pool (the lender's active ones it can see), with the PD,
    LGD and grade of their latest assessment, filtered."""
    if user.organization_id is None:
        return Facility.objects.none()
    latest = RiskAssessment.objects.filter(facility=OuterRef("pk")).order_by("-created_at", "-pk")
    qs = (objects_for(user, "lending.view_facility", Facility.objects.filter(
        organization_id=user.organization_id, status=Facility.FacilityStatus.ACTIVE))
          .select_related("borrower")
          .annotate(latest_pd=Subquery(latest.values("pd")[:1]), latest_lgd=Subquery(latest.values("lgd")[:1]),
                    latest_grade=Subquery(latest.values("grade")[:1]),
                    latest_assessment=Subquery(latest.values("pk")[:1])))
    if search:
        qs = qs.filter(Q(reference__icontains=search) | Q(borrower__name__icontains=search))
    if sector:
        qs = qs.filter(borrower__sector__icontains=sector)
    if currency:
        qs = qs.filter(currency=currency)
    if max_grade:
        qs = qs.filter(latest_grade__lte=max_grade)
    return qs.order_by("borrower__name", "reference")
