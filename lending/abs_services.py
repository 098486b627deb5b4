"""Write-side services for ABS: asset pools and their versions, capital structures (designed or sized to targets),
simulation runs and what-if re-runs, and the worker's execution of a run.

Every service is keyword-only, runs in one transaction and writes one audit event per state change; the
simulation is queued after commit and runs on the worker (``abs_tasks``). Loan officers of a lender build and
run; the lender's auditors read; nobody else learns these objects exist. The numbers come from
``lending.core.abs`` through ``abs_engine``.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.permissions import grant, objects_for
from accounts.roles import OrganizationKind, Role
from audit.core.canonical import state_digest
from audit.services import record

from . import abs_engine
from .abs_models import AssetPool, CapitalStructure, PoolFacility, SimulationRun
from .core.abs.errors import PoolError, StructureError
from .jsonsafe import jsonable
from .models import Facility, RiskAssessment

logger = logging.getLogger(__name__)

DEFAULT_SCENARIOS = 100_000
MIN_SCENARIOS = 1_000
MAX_SCENARIOS = 1_000_000
MAX_SEED = 2**32 - 1
MAX_POOL_FACILITIES = 5_000
SIZING_METRICS = ("probability_of_loss", "expected_loss")

PERMS = {
    AssetPool: ("lending.view_assetpool", "lending.change_assetpool"),
    CapitalStructure: ("lending.view_capitalstructure", "lending.change_capitalstructure"),
    SimulationRun: ("lending.view_simulationrun", "lending.change_simulationrun"),
}

POOL_ROW_FIELDS = ("facility_id", "assessment_id", "reference", "borrower_id", "borrower_name", "facility_type",
                   "balance", "annual_rate", "pd_annual", "lgd", "grade", "remaining_months", "amortisation",
                   "sector", "region", "health_level", "condition_level", "pledged_presses")


def _grant_to_lender(obj, lender: Organization) -> None:
    view, change = PERMS[type(obj)]
    grant([view, change], obj, lender, roles=[Role.LOAN_OFFICER])
    grant([view], obj, lender, roles=[Role.AUDITOR])


def _require_loan_officer(actor: User) -> Organization:
    lender = actor.organization
    if (lender is None or lender.kind != OrganizationKind.LENDER or not lender.is_active
            or actor.role != Role.LOAN_OFFICER):
        raise PermissionDenied(_("Only a lender's loan officers build asset pools and run simulations."))
    return lender


def _require(actor: User, perm: str, obj, message: str) -> None:
    if not actor.has_perm(perm, obj):
        raise PermissionDenied(message)


# --- Pools ------------------------------------------------------------------------------------------------

def remaining_term_months(facility: Facility, as_of: dt.date) -> int:
    """Whole months of the tenor left on ``as_of`` (the tenor runs from the start date)."""
    start = facility.start_date
    elapsed = (as_of.year - start.year) * 12 + (as_of.month - start.month) - (1 if as_of.day < start.day else 0)
    return facility.tenor_months - max(elapsed, 0)


def _latest_assessments(facility_ids: Iterable[int]) -> dict[int, RiskAssessment]:
    latest: dict[int, RiskAssessment] = {}
    for assessment in RiskAssessment.objects.filter(facility_id__in=list(facility_ids)).order_by(
            "facility_id", "-created_at", "-pk"):
        latest.setdefault(assessment.facility_id, assessment)
    return latest


def _facility_ids(values) -> list[int]:
    ids = []
    for value in values or ():
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValidationError({"facilities": _("“%(value)s” is not a facility id.") % {"value": value}}) from None
        if number not in ids:
            ids.append(number)
    if not ids:
        raise ValidationError({"facilities": _("Pick at least one facility.")})
    if len(ids) > MAX_POOL_FACILITIES:
        raise ValidationError({"facilities": _("A pool holds at most %(n)d facilities.") % {"n": MAX_POOL_FACILITIES}})
    return ids


def _frozen_rows(*, actor: User, lender: Organization, facility_ids: list[int],
                 as_of: dt.date) -> tuple[list[dict], str]:
    """Each facility's pool inputs as they stand now, and their currency; a ValidationError lists every facility
    that cannot join."""
    visible = objects_for(actor, "lending.view_facility", Facility.objects.filter(organization=lender))
    facilities = {f.pk: f for f in visible.filter(pk__in=facility_ids).select_related("borrower")
                  .prefetch_related("collateral__press")}
    assessments = _latest_assessments(facilities)
    problems, rows = [], []
    for facility_id in facility_ids:
        facility = facilities.get(facility_id)
        if facility is None:  # another lender's, or none at all: the same answer either way
            problems.append(_("Facility #%(id)s is not one of %(lender)s's facilities.")
                            % {"id": facility_id, "lender": lender.name})
            continue
        assessment = assessments.get(facility_id)
        remaining = remaining_term_months(facility, as_of)
        if not facility.is_active:
            problems.append(_("Facility %(ref)s is closed.") % {"ref": facility.reference})
        elif facility.drawn_amount <= 0:
            problems.append(_("Facility %(ref)s has nothing drawn.") % {"ref": facility.reference})
        elif remaining <= 0:
            problems.append(_("Facility %(ref)s has reached its maturity.") % {"ref": facility.reference})
        elif assessment is None:
            problems.append(_("Facility %(ref)s has no risk assessment yet: assess it first (its PD and LGD come "
                              "from the assessment).") % {"ref": facility.reference})
        if problems:
            continue
        pledges = list(facility.collateral.all())
        shared_levels = [int(h["alarm_level"] or 0) for h in assessment.health if h.get("shared")]
        levels = (assessment.pricing or {}).get("condition_levels") or [
            int(h["alarm_level"] or 0) if h.get("shared") else 1 for h in assessment.health]
        rows.append({
            "facility_id": facility.pk, "assessment_id": assessment.pk, "reference": facility.reference,
            "borrower_id": facility.borrower_id, "borrower_name": facility.borrower.name,
            "facility_type": facility.facility_type, "balance": facility.drawn_amount,
            "annual_rate": facility.annual_rate, "pd_annual": float(assessment.pd), "lgd": float(assessment.lgd),
            "grade": int(assessment.grade), "remaining_months": int(remaining), "amortisation": facility.repayment_kind,
            "sector": facility.borrower.sector.strip(),
            "region": ", ".join(sorted({pledge.press.site for pledge in pledges})),
            "health_level": max(shared_levels) if shared_levels else None,
            "condition_level": max(levels) if (levels and pledges) else 0,
            "pledged_presses": len(pledges),
        })
    if problems:
        raise ValidationError({"facilities": problems})
    currencies = sorted({facilities[row["facility_id"]].currency for row in rows})
    if len(currencies) > 1:
        raise ValidationError({"facilities": _("A pool is in one currency; these facilities are in %(list)s.")
                               % {"list": ", ".join(currencies)}})
    return rows, currencies[0]


def _pool_state(pool: AssetPool, rows: list[dict]) -> dict:
    return jsonable({"name": pool.name, "version": pool.version, "currency": pool.currency, "as_of": pool.as_of,
                     "inputs_hash": pool.inputs_hash, "facilities": rows})


def _pool_store(*, actor: User, lender: Organization, name: str, description: str, rows: list[dict], version: int,
                previous: AssetPool | None, currency: str, as_of: dt.date) -> AssetPool:
    try:
        analysis = abs_engine.pool_analysis(rows)
    except PoolError as exc:  # inputs the engine refuses (e.g. a PD of 0): name the facility
        raise ValidationError({"facilities": _("The pool's inputs are unusable: %(problem)s") % {"problem": exc}}) \
            from exc
    pool = AssetPool.objects.create(
        organization=lender, name=name, version=version, previous=previous, description=description,
        currency=currency, as_of=as_of, facility_count=len(rows),
        obligor_count=len({row["borrower_id"] for row in rows}),
        total_balance=sum((Decimal(row["balance"]) for row in rows), Decimal("0")), analysis=jsonable(analysis),
        inputs_hash=state_digest(jsonable(rows)), created_by=actor)
    PoolFacility.objects.bulk_create([PoolFacility(pool=pool, **row) for row in rows])
    _grant_to_lender(pool, lender)
    return pool


@transaction.atomic
def pool_create(*, actor: User, name: str, facility_ids, description: str = "") -> AssetPool:
    """A new pool (version 1) of the actor's lender from the picked facilities, their inputs frozen now."""
    lender = _require_loan_officer(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the pool a name.")})
    if AssetPool.objects.filter(organization=lender, name=name).exists():
        raise ValidationError({"name": _("A pool named %(name)s exists: open it and make a new version.")
                               % {"name": name}})
    as_of = timezone.localdate()
    rows, currency = _frozen_rows(actor=actor, lender=lender, facility_ids=_facility_ids(facility_ids), as_of=as_of)
    pool = _pool_store(actor=actor, lender=lender, name=name, description=(description or "").strip(), rows=rows,
                       version=1, previous=None, currency=currency, as_of=as_of)
    record(actor=actor, action="abs.pool.create", obj=pool, organization=lender, after=_pool_state(pool, rows))
    return pool


@transaction.atomic
def pool_revise(*, actor: User, pool: AssetPool, facility_ids=None, description: str | None = None) -> AssetPool:
    """The next version of ``pool``'s family: the given facilities (default: the same ones) with their inputs
    as they stand now. The older versions stay as they were."""
    lender = _require_loan_officer(actor)
    _require(actor, "lending.change_assetpool", pool, _("You may not change this pool."))
    latest = (AssetPool.objects.select_for_update().filter(organization=pool.organization, name=pool.name)
              .order_by("-version").first())
    if facility_ids is None:
        facility_ids = list(pool.members.values_list("facility_id", flat=True))
    as_of = timezone.localdate()
    rows, currency = _frozen_rows(actor=actor, lender=lender, facility_ids=_facility_ids(facility_ids), as_of=as_of)
    revised = _pool_store(actor=actor, lender=lender, name=pool.name,
                          description=pool.description if description is None else description.strip(), rows=rows,
                          version=latest.version + 1, previous=pool, currency=currency, as_of=as_of)
    record(actor=actor, action="abs.pool.revise", obj=revised, organization=lender,
           before=_pool_state(pool, pool_rows(pool)), after=_pool_state(revised, rows),
           payload={"previous_version": pool.version})
    return revised


def pool_rows(pool: AssetPool) -> list[dict]:
    """The frozen facility rows of a pool version, by reference."""
    return list(pool.members.order_by("reference").values(*POOL_ROW_FIELDS))


# --- Capital structures -------------------------------------------------------------------------------------

def validated_definition(definition: Mapping) -> dict:
    """The normalised definition (``abs_engine.normalised_definition``) or a ValidationError that says which
    tranche and field is wrong (overlapping or gapped attachment points, non-positive sizes, bad coupons ...)."""
    try:
        structure = abs_engine.engine_structure(definition)
    except StructureError as exc:
        raise ValidationError({"definition": _("The capital structure is invalid: %(problem)s") % {"problem": exc}},
                              code="structure") from exc
    return abs_engine.normalised_definition(structure)


def _structure_state(structure: CapitalStructure) -> dict:
    return jsonable({"name": structure.name, "version": structure.version, "pool": structure.pool_id,
                     "definition": structure.definition, "sizing": structure.sizing})


def _structure_name(lender: Organization, name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the structure a name.")})
    if CapitalStructure.objects.filter(organization=lender, name=name).exists():
        raise ValidationError({"name": _("A structure named %(name)s exists: open it and make a new version.")
                               % {"name": name}})
    return name


@transaction.atomic
def structure_create(*, actor: User, pool: AssetPool, name: str, definition: Mapping) -> CapitalStructure:
    """A capital structure (version 1) designed on ``pool``."""
    lender = _require_loan_officer(actor)
    _require(actor, "lending.change_assetpool", pool, _("You may not design structures on this pool."))
    name = _structure_name(lender, name)
    structure = CapitalStructure.objects.create(organization=lender, pool=pool, name=name, version=1,
                                                definition=validated_definition(definition), created_by=actor)
    _grant_to_lender(structure, lender)
    record(actor=actor, action="abs.structure.create", obj=structure, organization=lender,
           after=_structure_state(structure))
    return structure


@transaction.atomic
def structure_revise(*, actor: User, structure: CapitalStructure, definition: Mapping,
                     pool: AssetPool | None = None) -> CapitalStructure:
    """The next version of ``structure``'s family with a new definition (on ``pool``, default the same)."""
    lender = _require_loan_officer(actor)
    _require(actor, "lending.change_capitalstructure", structure, _("You may not change this structure."))
    pool = pool or structure.pool
    _require(actor, "lending.change_assetpool", pool, _("You may not design structures on this pool."))
    latest = (CapitalStructure.objects.select_for_update().filter(organization=structure.organization,
                                                                  name=structure.name).order_by("-version").first())
    revised = CapitalStructure.objects.create(organization=lender, pool=pool, name=structure.name,
                                              version=latest.version + 1, previous=structure,
                                              definition=validated_definition(definition), created_by=actor)
    _grant_to_lender(revised, lender)
    record(actor=actor, action="abs.structure.revise", obj=revised, organization=lender,
           before=_structure_state(structure), after=_structure_state(revised),
           payload={"previous_version": structure.version})
    return revised


def _check_scenarios_seed(scenarios, seed, errors: dict) -> tuple[int, int]:
    try:
        scenarios = int(scenarios)
    except (TypeError, ValueError):
        scenarios = 0
    if not MIN_SCENARIOS <= scenarios <= MAX_SCENARIOS:
        errors["scenarios"] = _("Give between %(low)s and %(high)s scenarios.") % {
            "low": f"{MIN_SCENARIOS:,}", "high": f"{MAX_SCENARIOS:,}"}
    if seed in (None, ""):
        seed = secrets.randbelow(2**31)
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        seed = -1
    if not 0 <= seed <= MAX_SEED:
        errors["seed"] = _("The seed is a whole number from 0 to %(max)s.") % {"max": MAX_SEED}
    return scenarios, seed


@transaction.atomic
def structure_size(*, actor: User, pool: AssetPool, name: str, tranches: list[Mapping], equity_name: str = "Equity",
                   metric: str = "probability_of_loss", scenarios=DEFAULT_SCENARIOS, seed=None,
                   settings: Mapping | None = None) -> CapitalStructure:
    """A structure whose attachment points the portal sizes: from the top, each tranche is the largest whose
    probability of loss (or expected loss) over the deal stays under its target (a band of the illustrative
    rating table or a fraction), on ``scenarios`` simulated pool losses with ``seed``. ``settings``: the rest of
    the deal (waterfall, reserve, tests, assumptions) in the STRUCTURE.json layout."""
    lender = _require_loan_officer(actor)
    _require(actor, "lending.change_assetpool", pool, _("You may not design structures on this pool."))
    name = _structure_name(lender, name)
    errors: dict = {}
    scenarios, seed = _check_scenarios_seed(scenarios, seed, errors)
    if metric not in SIZING_METRICS:
        errors["metric"] = _("Size to the probability of loss or to the expected loss.")
    specs, bands = [], set(abs_engine.rating_bands())
    for index, spec in enumerate(tranches):
        tranche_name = str(spec.get("name") or "").strip()
        target = spec.get("target")
        if isinstance(target, str) and target not in bands:
            try:
                target = float(target)
            except ValueError:
                errors["tranches"] = _("Tranche %(name)s: the target is a rating band (%(bands)s) or a fraction.") % {
                    "name": tranche_name or index + 1, "bands": ", ".join(sorted(bands))}
                continue
        if not isinstance(target, str) and not (target is not None and 0 < float(target) < 1):
            errors["tranches"] = _("Tranche %(name)s: the target must lie between 0 and 1 (a fraction of the "
                                   "tranche).") % {"name": tranche_name or index + 1}
            continue
        if not tranche_name:
            errors["tranches"] = _("Every tranche needs a name.")
            continue
        specs.append({"name": tranche_name, "target": target if isinstance(target, str) else float(target),
                      "coupon": float(spec.get("coupon") or 0.0)})
    if not specs and "tranches" not in errors:
        errors["tranches"] = _("Give at least one tranche to size above the equity.")
    numeric = [abs_engine.band_value(s["target"], metric) if isinstance(s["target"], str) else s["target"]
               for s in specs] if metric in SIZING_METRICS else []
    if any(later < earlier for earlier, later in zip(numeric, numeric[1:])):
        errors["tranches"] = _("Targets go from the most senior (strictest) down: each target at least the one "
                               "above it.")
    if errors:
        raise ValidationError(errors)
    base = {key: value for key, value in (settings or {}).items() if key != "tranches"}
    # The deal around the tranches (waterfall, reserve, assumptions) must be valid before anything is sized.
    validated_definition({**base, "oc": {}, "ic": {}, "tranches": [{"name": "probe", "attachment": 0.0,
                                                                   "detachment": 1.0}]})
    obligors = abs_engine.engine_rows(pool_rows(pool))
    definition, sizing = abs_engine.size(obligors, base, tranches=specs, equity_name=(equity_name or "Equity").strip(),
                                         metric=metric, scenarios=scenarios, seed=seed)
    structure = CapitalStructure.objects.create(organization=lender, pool=pool, name=name, version=1,
                                                definition=validated_definition(definition), sizing=jsonable(sizing),
                                                created_by=actor)
    _grant_to_lender(structure, lender)
    record(actor=actor, action="abs.structure.size", obj=structure, organization=lender,
           after=_structure_state(structure), payload={"metric": metric, "scenarios": scenarios, "seed": seed})
    return structure


# --- Simulation runs ----------------------------------------------------------------------------------------

def _run_inputs(pool: AssetPool, structure: CapitalStructure, *, scenarios: int, seed: int, shock: dict) -> dict:
    return jsonable({
        "pool": {"id": pool.pk, "name": pool.name, "version": pool.version, "currency": pool.currency,
                 "inputs_hash": pool.inputs_hash},
        "structure_ref": {"id": structure.pk, "name": structure.name, "version": structure.version},
        "obligors": abs_engine.engine_rows(pool_rows(pool)),
        "structure": structure.definition, "scenarios": scenarios, "seed": seed, "shock": shock,
    })


def _run_state(run: SimulationRun) -> dict:
    return {"kind": run.kind, "pool": run.pool_id, "structure": run.structure_id, "scenarios": run.scenarios,
            "seed": run.seed, "shock": run.shock, "inputs_hash": run.inputs_hash, "status": run.status}


def _create_run(*, actor: User, pool: AssetPool, structure: CapitalStructure, scenarios: int, seed: int,
                kind: str = SimulationRun.Kind.SIMULATION, shock: dict | None = None,
                base_run: SimulationRun | None = None, rerun_of: SimulationRun | None = None,
                inputs: dict | None = None, action: str = "abs.run.request") -> SimulationRun:
    inputs = inputs or _run_inputs(pool, structure, scenarios=scenarios, seed=seed, shock=shock or {})
    run = SimulationRun.objects.create(
        organization=pool.organization, pool=pool, structure=structure, kind=kind, base_run=base_run,
        rerun_of=rerun_of, scenarios=scenarios, seed=seed, shock=shock or {}, inputs=inputs,
        inputs_hash=state_digest(inputs), requested_by=actor)
    _grant_to_lender(run, pool.organization)
    record(actor=actor, action=action, obj=run, organization=pool.organization, after=_run_state(run),
           payload={"rerun_of": rerun_of.pk if rerun_of else None, "base_run": base_run.pk if base_run else None})
    transaction.on_commit(lambda run_id=run.pk: _enqueue(run_id), robust=True)
    return run


def _enqueue(run_id: int) -> None:
    from portal.celery import DEFAULT_QUEUE

    from .abs_tasks import abs_simulate_run

    abs_simulate_run.apply_async(args=[run_id], queue=DEFAULT_QUEUE)


@transaction.atomic
def run_request(*, actor: User, pool: AssetPool, structure: CapitalStructure, scenarios=DEFAULT_SCENARIOS,
                seed=None) -> SimulationRun:
    """Queue a simulation of ``pool`` through ``structure`` (``scenarios`` copula scenarios, ``seed``; a random
    seed is drawn and recorded when none is given)."""
    _require_loan_officer(actor)
    _require(actor, "lending.change_assetpool", pool, _("You may not run simulations on this pool."))
    _require(actor, "lending.view_capitalstructure", structure, _("You may not use this structure."))
    if structure.organization_id != pool.organization_id:
        raise ValidationError({"structure": _("The structure belongs to another lender.")})
    errors: dict = {}
    scenarios, seed = _check_scenarios_seed(scenarios, seed, errors)
    if errors:
        raise ValidationError(errors)
    validated_definition(structure.definition)
    return _create_run(actor=actor, pool=pool, structure=structure, scenarios=scenarios, seed=seed)


@transaction.atomic
def run_rerun(*, actor: User, run: SimulationRun) -> SimulationRun:
    """The same inputs and seed again, as a new run (its results must equal the first run's)."""
    _require_loan_officer(actor)
    _require(actor, "lending.change_simulationrun", run, _("You may not re-run this simulation."))
    return _create_run(actor=actor, pool=run.pool, structure=run.structure, scenarios=run.scenarios, seed=run.seed,
                       kind=run.kind, shock=run.shock, base_run=run.base_run, rerun_of=run, inputs=run.inputs,
                       action="abs.run.rerun")


@transaction.atomic
def run_what_if(*, actor: User, run: SimulationRun, correlation=None, pd_multiplier=1.0, grade_shift=0,
                health_notches=0) -> SimulationRun:
    """Re-run ``run`` with a changed asset correlation, PDs scaled or moved by grades, and/or every pledged press
    one alarm level worse; same scenarios and seed, so the deltas are not noise."""
    _require_loan_officer(actor)
    _require(actor, "lending.change_simulationrun", run, _("You may not re-run this simulation."))
    if run.kind != SimulationRun.Kind.SIMULATION:
        raise ValidationError(_("A what-if starts from a simulation, not from another what-if."))
    errors: dict = {}
    shock: dict = {"correlation": None, "pd_multiplier": 1.0, "grade_shift": 0, "health_notches": 0}
    if correlation not in (None, ""):
        try:
            shock["correlation"] = float(correlation)
        except (TypeError, ValueError):
            shock["correlation"] = -1.0
        if not 0.0 <= shock["correlation"] < 1.0:
            errors["correlation"] = _("The asset correlation lies in [0, 1).")
    try:
        shock["pd_multiplier"] = float(pd_multiplier if pd_multiplier not in (None, "") else 1.0)
    except (TypeError, ValueError):
        shock["pd_multiplier"] = 0.0
    if not 0.0 < shock["pd_multiplier"] <= 20.0:
        errors["pd_multiplier"] = _("The PD multiplier lies in (0, 20].")
    try:
        shock["grade_shift"] = int(grade_shift or 0)
    except (TypeError, ValueError):
        shock["grade_shift"] = 99
    if not -5 <= shock["grade_shift"] <= 5:
        errors["grade_shift"] = _("Move PDs by at most five grades either way.")
    shock["health_notches"] = 1 if health_notches in (True, 1, "1", "on", "true", "True") else 0
    if not errors and shock == {"correlation": None, "pd_multiplier": 1.0, "grade_shift": 0, "health_notches": 0}:
        errors["__all__"] = _("Change at least one input: correlation, PDs or equipment health.")
    if errors:
        raise ValidationError(errors)
    inputs = {**run.inputs, "shock": shock}
    return _create_run(actor=actor, pool=run.pool, structure=run.structure, scenarios=run.scenarios, seed=run.seed,
                       kind=SimulationRun.Kind.WHAT_IF, shock=shock, base_run=run, inputs=jsonable(inputs),
                       action="abs.run.what_if")


def _set_stage(run_id: int, stage: str, progress: int) -> None:
    SimulationRun.objects.filter(pk=run_id, status=SimulationRun.Status.RUNNING).update(stage=stage, progress=progress)


def simulation_run_execute(*, run_id: int) -> str:
    """The worker's part: compute the run from its frozen inputs, writing progress to the row, then store the
    results. Idempotent: a finished run is left alone; a run some worker left ``running`` is computed again
    (deterministic: same inputs and seed, same results). Returns the run's final status."""
    with transaction.atomic():
        run = SimulationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            logger.warning("ABS run %s no longer exists", run_id)
            return "missing"
        if run.is_finished:
            return run.status
        run.status, run.progress, run.stage = SimulationRun.Status.RUNNING, 5, "preparing"
        run.attempts += 1
        run.started_at = timezone.now()
        run.save(update_fields=["status", "progress", "stage", "attempts", "started_at"])
        actor = f"worker:{run.organization.slug}"
        record(actor=actor, action="abs.run.start", obj=run, organization=run.organization,
               payload={"attempt": run.attempts})
    compute = abs_engine.simulate_what_if if run.kind == SimulationRun.Kind.WHAT_IF else abs_engine.simulate
    try:
        results = jsonable(compute(run.inputs, on_stage=lambda stage, progress: _set_stage(run_id, stage, progress)))
    except Exception as exc:  # a bad input or an engine failure: the run says why, the worker carries on
        logger.exception("ABS run %s failed", run_id)
        return _finish(run_id, actor, error=f"{type(exc).__name__}: {exc}")
    _set_stage(run_id, "saving", 95)
    return _finish(run_id, actor, results=results)


@transaction.atomic
def _finish(run_id: int, actor: str, *, results: dict | None = None, error: str = "") -> str:
    run = SimulationRun.objects.select_for_update().get(pk=run_id)
    if run.status != SimulationRun.Status.RUNNING:  # another delivery finished it first
        return run.status
    run.finished_at = timezone.now()
    if results is None:
        run.status, run.error, run.stage = SimulationRun.Status.FAILED, error[:4000], "failed"
        run.save(update_fields=["status", "error", "stage", "finished_at"])
        record(actor=actor, action="abs.run.fail", obj=run, organization=run.organization,
               payload={"error": run.error[:500]})
        return run.status
    run.status, run.progress, run.stage, run.results = SimulationRun.Status.DONE, 100, "done", results
    run.save(update_fields=["status", "progress", "stage", "results", "finished_at"])
    summary = {"scenarios": run.scenarios, "seed": run.seed}
    if run.kind == SimulationRun.Kind.SIMULATION:
        summary["pool_expected_loss"] = results["pool"]["expected_loss"]
        summary["tranche_expected_loss"] = {t["name"]: t["expected_loss"] for t in results["tranches"]}
    record(actor=actor, action="abs.run.finish", obj=run, organization=run.organization,
           after={"inputs_hash": run.inputs_hash, "results": state_digest(results)}, payload=summary)
    return run.status
