"""ABS pages (loan officers build and run; the lender's auditors read): pools with their stratification, capital
structures (designed or sized to targets), simulation runs with charts, a what-if panel and a JSON status that the
page polls while a run is on the worker."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.roles import Role
from portal.views import apply_form_errors

from . import abs_engine
from . import abs_selectors as selectors
from . import abs_services as services
from .abs_forms import (DEFAULT_TARGETS, DEFAULT_TRANCHES, DealSettingsForm, PoolFilterForm, PoolForm, PoolReviseForm,
                        RunForm, SizingForm, SizingTargetFormSet, StructureForm, TrancheFormSet, WhatIfForm,
                        definition_from, tranche_initial)
from .abs_models import AssetPool, CapitalStructure, SimulationRun
from .core.abs.ratings import rating_table

STRATUM_TITLES = {
    "sector": gettext_lazy("Industry"), "region": gettext_lazy("Region (site of the pledged presses)"),
    "pd_band": gettext_lazy("PD grade"), "health_band": gettext_lazy("Health band (worst pledged press)"),
    "remaining_term": gettext_lazy("Remaining term (months)"), "collateral_type": gettext_lazy("Collateral"),
}


def _stratum_label(by: str, key: str) -> str:
    labels = {"unsecured": _("Unsecured"), "not-shared": _("Health not shared"),
              "pledged-presses": _("Pledged presses"),
              "level-0": _("Normal"), "level-1": _("Warning"), "level-2": _("Alarm"), "level-3": _("Danger"),
              "unassigned": _("Not recorded")}
    return labels.get(key, key)


def _plotly_url() -> str:
    import plotly

    try:
        return f"{reverse('health:plotly_js')}?v={plotly.__version__}"
    except NoReverseMatch:  # the health app serves plotly.min.js from the installed package
        return ""


def _or_404(getter, **kwargs):
    try:
        return getter(**kwargs)
    except (AssetPool.DoesNotExist, CapitalStructure.DoesNotExist, SimulationRun.DoesNotExist) as exc:
        raise Http404 from exc


def _is_officer(user) -> bool:
    return user.role == Role.LOAN_OFFICER and user.organization is not None and user.organization.kind == "lender"


def _require_officer(user) -> None:
    if not _is_officer(user):
        raise PermissionDenied


def _error_messages(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


# --- Pools ------------------------------------------------------------------------------------------------

@login_required
def pool_list_view(request):
    if request.user.organization is None or request.user.organization.kind != "lender":
        raise PermissionDenied
    return render(request, "abs/pool_list.html", {
        "pools": selectors.pool_list(user=request.user, search=request.GET.get("q", "").strip()),
        "runs": selectors.run_list(user=request.user)[:10], "is_officer": _is_officer(request.user),
        "q": request.GET.get("q", "")})


def _candidates(request):
    filters = PoolFilterForm(request.GET or None)
    values = filters.cleaned_data if filters.is_valid() else {}
    return filters, selectors.pool_candidates(user=request.user, search=values.get("q") or "",
                                              sector=values.get("sector") or "", currency=values.get("currency") or "",
                                              max_grade=values.get("max_grade"))


@login_required
def pool_create_view(request):
    _require_officer(request.user)
    form = PoolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pool = services.pool_create(actor=request.user, name=form.cleaned_data["name"],
                                        description=form.cleaned_data["description"],
                                        facility_ids=form.cleaned_data["facilities"])
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            messages.success(request, _("Pool %(name)s created (version 1).") % {"name": pool.name})
            return redirect("abs:pool_detail", pk=pool.pk)
    filters, candidates = _candidates(request)
    picked = {int(v) for v in form.data.getlist("facilities") if str(v).isdigit()} if form.is_bound else set()
    return _pool_form(request, form=form, filters=filters, candidates=candidates, picked=picked, pool=None)


def _pool_form(request, *, form, filters, candidates, picked: set[int], pool):
    candidates = list(candidates)
    shown = {facility.pk for facility in candidates}
    return render(request, "abs/pool_form.html", {
        "form": form, "filters": filters, "candidates": candidates, "picked": picked, "pool": pool,
        "hidden_picked": sorted(picked - shown)}, status=400 if form.is_bound and form.errors else 200)


@login_required
def pool_revise_view(request, pk: int):
    pool = _or_404(selectors.pool_get, user=request.user, pk=pk)
    if not request.user.has_perm("lending.change_assetpool", pool):
        raise PermissionDenied
    form = PoolReviseForm(request.POST or None, initial={"description": pool.description})
    if request.method == "POST" and form.is_valid():
        try:
            revised = services.pool_revise(actor=request.user, pool=pool, facility_ids=form.cleaned_data["facilities"],
                                           description=form.cleaned_data["description"])
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            messages.success(request, _("Version %(version)s of %(name)s created.")
                             % {"version": revised.version, "name": revised.name})
            return redirect("abs:pool_detail", pk=revised.pk)
    filters, candidates = _candidates(request)
    if form.is_bound:
        picked = {int(v) for v in form.data.getlist("facilities") if str(v).isdigit()}
    else:
        picked = set(pool.members.values_list("facility_id", flat=True))
    return _pool_form(request, form=form, filters=filters, candidates=candidates, picked=picked, pool=pool)


@login_required
def pool_detail_view(request, pk: int):
    pool = _or_404(selectors.pool_get, user=request.user, pk=pk)
    analysis = pool.analysis
    strata = [{"by": by, "title": STRATUM_TITLES[by],
               "rows": [{**row, "label": _stratum_label(by, row["key"])} for row in analysis["strata"][by]]}
              for by in abs_engine.STRATA]
    can_change = request.user.has_perm("lending.change_assetpool", pool)
    return render(request, "abs/pool_detail.html", {
        "pool": pool, "analysis": analysis, "strata": strata, "can_change": can_change and _is_officer(request.user),
        "members": selectors.pool_members(pool=pool),
        "versions": selectors.pool_versions(user=request.user, pool=pool),
        "structures": selectors.structure_list(user=request.user, pool=pool),
        "runs": selectors.run_list(user=request.user, pool=pool)[:20],
        "chart_data": {"strata": strata, "currency": pool.currency,
                       "concentration": analysis["concentration"]},
        "plotly_url": _plotly_url()})


# --- Structures -------------------------------------------------------------------------------------------

def _structure_page(request, *, pool: AssetPool, structure: CapitalStructure | None):
    if structure is None:
        initial_tranches, initial_settings = DEFAULT_TRANCHES, None
    else:
        initial_tranches = tranche_initial(structure.definition)
        initial_settings = DealSettingsForm.initial_from(structure.definition)
    form = StructureForm(request.POST or None) if structure is None else None
    tranches = TrancheFormSet(request.POST or None, prefix="tranches", initial=initial_tranches)
    settings = DealSettingsForm(request.POST or None, prefix="deal", initial=initial_settings)
    problems = []
    if request.method == "POST" and (form is None or form.is_valid()) and tranches.is_valid() and settings.is_valid():
        definition = definition_from(tranches, settings)
        try:
            if structure is None:
                saved = services.structure_create(actor=request.user, pool=pool, name=form.cleaned_data["name"],
                                                  definition=definition)
            else:
                saved = services.structure_revise(actor=request.user, structure=structure, definition=definition)
        except ValidationError as exc:
            if form is not None and hasattr(exc, "error_dict") and "name" in exc.error_dict:
                apply_form_errors(form, exc)
            else:
                problems = exc.messages
        else:
            messages.success(request, _("Structure %(name)s v%(version)s saved.")
                             % {"name": saved.name, "version": saved.version})
            return redirect("abs:structure_detail", pk=saved.pk)
    return render(request, "abs/structure_form.html", {
        "pool": pool, "structure": structure, "form": form, "tranches": tranches, "settings": settings,
        "problems": problems, "status": 400 if problems else 200}, status=400 if problems else 200)


@login_required
def structure_create_view(request, pk: int):
    pool = _or_404(selectors.pool_get, user=request.user, pk=pk)
    if not request.user.has_perm("lending.change_assetpool", pool):
        raise PermissionDenied
    return _structure_page(request, pool=pool, structure=None)


@login_required
def structure_revise_view(request, pk: int):
    structure = _or_404(selectors.structure_get, user=request.user, pk=pk)
    if not request.user.has_perm("lending.change_capitalstructure", structure):
        raise PermissionDenied
    return _structure_page(request, pool=structure.pool, structure=structure)


@login_required
def structure_size_view(request, pk: int):
    pool = _or_404(selectors.pool_get, user=request.user, pk=pk)
    if not request.user.has_perm("lending.change_assetpool", pool):
        raise PermissionDenied
    form = SizingForm(request.POST or None)
    targets = SizingTargetFormSet(request.POST or None, prefix="targets", initial=DEFAULT_TARGETS)
    settings = DealSettingsForm(request.POST or None, prefix="deal")
    problems = []
    if request.method == "POST" and form.is_valid() and targets.is_valid() and settings.is_valid():
        rows = [{"name": t.cleaned_data.get("name"), "target": t.target(),
                 "coupon": float(t.cleaned_data["coupon"] / 100) if t.cleaned_data.get("coupon") is not None else 0.0}
                for t in targets.forms if t.cleaned_data.get("name") or t.cleaned_data.get("custom") is not None]
        try:
            structure = services.structure_size(
                actor=request.user, pool=pool, name=form.cleaned_data["name"],
                equity_name=form.cleaned_data["equity_name"], metric=form.cleaned_data["metric"], tranches=rows,
                scenarios=form.cleaned_data["scenarios"], seed=form.cleaned_data["seed"],
                settings=settings.settings())
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and set(exc.error_dict) <= set(form.fields):
                apply_form_errors(form, exc)
            else:
                problems = exc.messages
        else:
            messages.success(request, _("Structure %(name)s: tranches sized to their targets.")
                             % {"name": structure.name})
            return redirect("abs:structure_detail", pk=structure.pk)
    status = 400 if (problems or (request.method == "POST" and form.errors)) else 200
    return render(request, "abs/structure_size.html", {
        "pool": pool, "form": form, "targets": targets, "settings": settings, "problems": problems,
        "rating_table": rating_table()}, status=status)


@login_required
def structure_detail_view(request, pk: int):
    structure = _or_404(selectors.structure_get, user=request.user, pk=pk)
    can_run = request.user.has_perm("lending.change_capitalstructure", structure) and _is_officer(request.user)
    pools = selectors.pool_list(user=request.user, latest_only=False).filter(organization=structure.organization)
    definition = structure.definition
    total = float(structure.pool.total_balance)
    tranches = [{**t, "size": t["detachment"] - t["attachment"],
                 "notional": (t["detachment"] - t["attachment"]) * total,
                 "oc": definition.get("oc", {}).get(t["name"]), "ic": definition.get("ic", {}).get(t["name"])}
                for t in definition["tranches"]]
    return render(request, "abs/structure_detail.html", {
        "structure": structure, "definition": definition, "tranches": tranches, "can_run": can_run,
        "run_form": RunForm(pools=pools, initial={"pool": structure.pool_id}) if can_run else None,
        "versions": selectors.structure_versions(user=request.user, structure=structure),
        "runs": selectors.run_list(user=request.user, structure=structure)[:20],
        "rating_table": rating_table(),
        "chart_data": {"tranches": tranches, "currency": structure.pool.currency},
        "plotly_url": _plotly_url()})


@login_required
@require_POST
def run_create_view(request, pk: int):
    structure = _or_404(selectors.structure_get, user=request.user, pk=pk)
    if not (request.user.has_perm("lending.change_capitalstructure", structure) and _is_officer(request.user)):
        raise PermissionDenied
    pools = selectors.pool_list(user=request.user, latest_only=False).filter(organization=structure.organization)
    form = RunForm(request.POST, pools=pools)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label if field in form.fields else ''}: {' '.join(errors)}")
        return redirect("abs:structure_detail", pk=structure.pk)
    try:
        run = services.run_request(actor=request.user, pool=form.cleaned_data["pool"], structure=structure,
                                   scenarios=form.cleaned_data["scenarios"], seed=form.cleaned_data["seed"])
    except ValidationError as exc:
        _error_messages(request, exc)
        return redirect("abs:structure_detail", pk=structure.pk)
    return redirect("abs:run_detail", pk=run.pk)


# --- Runs ---------------------------------------------------------------------------------------------------

def _status_payload(run: SimulationRun) -> dict:
    return {"id": run.pk, "status": run.status, "status_label": run.get_status_display(), "progress": run.progress,
            "stage": run.stage, "finished": run.is_finished, "error": run.error,
            "url": reverse("abs:run_detail", args=[run.pk])}


@login_required
def run_detail_view(request, pk: int):
    run = _or_404(selectors.run_get, user=request.user, pk=pk)
    can_act = request.user.has_perm("lending.change_simulationrun", run) and _is_officer(request.user)
    what_ifs = list(selectors.run_what_ifs(user=request.user, run=run).defer(None)) \
        if run.kind == SimulationRun.Kind.SIMULATION else []
    identical = None
    if run.rerun_of_id and run.status == SimulationRun.Status.DONE:
        original = SimulationRun.objects.filter(pk=run.rerun_of_id).only("results", "status").first()
        if original is not None and original.status == SimulationRun.Status.DONE:
            identical = original.results == run.results
    results = run.results or {}
    amounts = {}
    if run.kind == SimulationRun.Kind.SIMULATION and results:
        balance = float(results["pool"]["initial_balance"])
        amounts = {key: results["pool"][key] * balance
                   for key in ("expected_loss", "var_99", "var_999", "expected_shortfall_99")}
    return render(request, "abs/run_detail.html", {
        "run": run, "results": results, "can_act": can_act, "what_ifs": what_ifs, "identical": identical,
        "what_if_form": WhatIfForm() if can_act and run.kind == SimulationRun.Kind.SIMULATION else None,
        "status": _status_payload(run), "pending_what_ifs": [w.pk for w in what_ifs if not w.is_finished],
        "currency": run.inputs.get("pool", {}).get("currency", ""),
        "amounts": amounts,
        "rating_table": rating_table(),
        "plotly_url": _plotly_url() if run.status == SimulationRun.Status.DONE else ""})


@never_cache
@login_required
def run_status_view(request, pk: int):
    run = _or_404(selectors.run_get, user=request.user, pk=pk)
    return JsonResponse(_status_payload(run))


@login_required
@require_POST
def run_rerun_view(request, pk: int):
    run = _or_404(selectors.run_get, user=request.user, pk=pk)
    if not (request.user.has_perm("lending.change_simulationrun", run) and _is_officer(request.user)):
        raise PermissionDenied
    rerun = services.run_rerun(actor=request.user, run=run)
    messages.success(request, _("Re-running with the same inputs and seed %(seed)s.") % {"seed": run.seed})
    return redirect("abs:run_detail", pk=rerun.pk)


@login_required
@require_POST
def run_what_if_view(request, pk: int):
    run = _or_404(selectors.run_get, user=request.user, pk=pk)
    if not (request.user.has_perm("lending.change_simulationrun", run) and _is_officer(request.user)):
        raise PermissionDenied
    form = WhatIfForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, " ".join(errors))
        return redirect(reverse("abs:run_detail", args=[run.pk]) + "#what-if")
    try:
        services.run_what_if(actor=request.user, run=run, **form.cleaned_data)
    except ValidationError as exc:
        _error_messages(request, exc)
    else:
        messages.success(request, _("What-if queued with the same scenarios and seed."))
    return redirect(reverse("abs:run_detail", args=[run.pk]) + "#what-if")
