"""Pages of tabular federated tasks: a lender's loan books / an enterprise's production records (upload,
list, detail), creating a task, and a task's results as each organisation may see them:

- the initiator: per participant, the global model's figures on that participant's hold-out (computed by
  the participant's worker; only figures travel) against the participant's local-only model;
- each participant: the global model on its own hold-out, computed here from its own rows for its own
  users (a lender: AUC, KS, calibration by grade, and adoption as PD model or challenger; an enterprise:
  predicted against actual per period, R^2, MSE, coefficients with units, and where it sits against the
  federation's model).

Reads are scoped through guardian (404 outside the user's scope); actions are checked by the services.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.permissions import objects_for
from portal.views import apply_form_errors

from . import selectors, services, tabular, tabular_data
from .core.tabular import linear_coefficients, schema_from_dict
from .core.tabular_schemas import SCHEMAS
from .crypto import decode_weights
from .models import DatasetKind, Evaluation, FederatedTask, ModelVersion
from .tabular_forms import DatasetUploadForm, TabularTaskForm
from .tabular_models import TabularDataset


def dataset_list(*, user):
    """The uploads the user may see: its own organisation's, never another's."""
    return objects_for(user, tabular.DATASET_VIEW, TabularDataset.objects.select_related(
        "organization", "uploaded_by").defer("content")).order_by("-created_at")


def _kind_of(user) -> str | None:
    org = user.organization
    if org is None:
        return None
    for kind, org_kind in tabular.ORGANIZATION_KIND_OF.items():
        if org.kind == org_kind:
            return kind
    return None


@login_required
def tabular_home_view(request):
    kind = _kind_of(request.user)
    form = DatasetUploadForm(kind=kind) if kind and services.is_acting_member(request.user) else None
    tasks = selectors.task_list(user=request.user).exclude(dataset_kind=DatasetKind.PRESS_HEALTH)[:50]
    return render(request, "federation/tabular/home.html", {
        "kind": kind, "schema": SCHEMAS.get(kind), "form": form, "datasets": dataset_list(user=request.user),
        "tasks": tasks, "can_create": form is not None})


@login_required
@require_POST
def dataset_upload_view(request):
    kind = _kind_of(request.user)
    if kind is None or not services.is_acting_member(request.user):
        raise PermissionDenied
    form = DatasetUploadForm(request.POST, request.FILES, kind=kind)
    if form.is_valid():
        try:
            dataset = tabular.dataset_upload(actor=request.user, kind=kind, name=form.cleaned_data["name"],
                                             content=form.cleaned_data["file"].read(),
                                             column_map=form.cleaned_data["column_map"])
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            messages.success(request, _("Stored: %(rows)d rows fit the shared schema.") % {"rows": dataset.rows})
            return redirect("federation:dataset_detail", pk=dataset.pk)
    return render(request, "federation/tabular/home.html", {
        "kind": kind, "schema": SCHEMAS[kind], "form": form, "datasets": dataset_list(user=request.user),
        "tasks": selectors.task_list(user=request.user).exclude(dataset_kind=DatasetKind.PRESS_HEALTH)[:50],
        "can_create": True}, status=400)


def _dataset_or_404(request, pk) -> TabularDataset:
    dataset = dataset_list(user=request.user).filter(pk=pk).first()
    if dataset is None:
        raise Http404
    return dataset


@login_required
def dataset_detail_view(request, pk: int):
    dataset = _dataset_or_404(request, pk)
    schema = schema_from_dict(dataset.schema)
    return render(request, "federation/tabular/dataset_detail.html", {
        "dataset": dataset, "schema": schema, "grants": dataset.grants.select_related("task", "requester"),
        "can_delete": request.user.has_perm(tabular.DATASET_DELETE, dataset) and not dataset.grants.exists()})


@login_required
@require_POST
def dataset_delete_view(request, pk: int):
    dataset = _dataset_or_404(request, pk)
    if not request.user.has_perm(tabular.DATASET_DELETE, dataset):
        raise PermissionDenied
    try:
        tabular.dataset_delete(actor=request.user, dataset=dataset)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("federation:dataset_detail", pk=dataset.pk)
    messages.success(request, _("Deleted."))
    return redirect("federation:tabular_home")


@login_required
def tabular_task_create_view(request):
    kind = _kind_of(request.user)
    if kind is None or not services.is_acting_member(request.user):
        raise PermissionDenied
    form = TabularTaskForm(request.POST or None, kind=kind, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            task = tabular.tabular_task_create(actor=request.user, **form.service_kwargs())
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            messages.success(request, _("Task created; each participant got a data-use request."))
            return redirect("federation:task_detail", pk=task.pk)
    return render(request, "federation/tabular/task_form.html", {"form": form, "kind": kind,
                                                                 "schema": SCHEMAS[kind]})


def _participated(user, task) -> bool:
    return task.participants.filter(organization_id=user.organization_id, joined_at__isnull=False).exists()


@login_required
def tabular_results_view(request, pk: int):
    try:
        task = selectors.task_get(user=request.user, pk=pk)
    except FederatedTask.DoesNotExist as exc:
        raise Http404 from exc
    if task.dataset_kind == DatasetKind.PRESS_HEALTH:
        raise Http404
    final = task.versions.filter(is_final=True).first()
    schema, target = tabular_data.task_schema(task), tabular_data.task_target(task)
    context = {"task": task, "final": final, "schema": schema, "target": schema.target(target),
               "binary": schema.target(target).kind == "binary", "plotly_url": _plotly_url()}
    if final is not None and selectors.is_initiator(request.user, task):
        context["evaluations"] = Evaluation.objects.filter(version=final).select_related("organization").order_by(
            "organization__name")
    if final is not None and _participated(request.user, task):
        own = request.user.organization
        if context["binary"]:
            from lending.federated_pd import federated_pd_current

            context["validation"] = tabular_data.lender_validation(final, own)
            current = list(federated_pd_current(organization=own))
            context["adoptions"] = [a for a in current if a.version_id == final.pk]
            context["adopted_roles"] = {a.role for a in context["adoptions"]}
            context["can_adopt"] = request.user.role == "loan_officer" and task.status == FederatedTask.Status.FINISHED
        else:
            fit = tabular_data.enterprise_fit(final, own)
            context["fit"] = fit
            relative = fit.get("relative_to_model")
            if relative is not None:
                label = schema.target(target).label.lower()
                context["position"] = (
                    _("Your actual %(label)s is %(pct).1f %% above what the federation's model expects for your "
                      "production.") if relative >= 0 else
                    _("Your actual %(label)s is %(pct).1f %% below what the federation's model expects for your "
                      "production.")) % {"label": label, "pct": abs(relative) * 100}
            context["fit_chart"] = ({
                "actual": fit["actual"], "predicted": fit["predicted"],
                "x_title": _("Actual %(label)s (%(unit)s)") % {"label": schema.target(target).label,
                                                              "unit": schema.target(target).unit},
                "y_title": _("Predicted by the federation's model (%(unit)s)") % {"unit": schema.target(target).unit},
                "title": _("Your hold-out periods against the federation's model"),
                "periods": _("your periods"), "diagonal": _("prediction = actual")})
    if final is not None and len(final.layer_sizes) == 1 and (context.get("fit") is not None
                                                              or context.get("validation") is not None
                                                              or context.get("evaluations") is not None):
        context["coefficients"] = linear_coefficients(schema, target, decode_weights(
            ModelVersion.objects.get(pk=final.pk).weights))
    return render(request, "federation/tabular/results.html", context)


def _plotly_url() -> str:
    from health.views import plotly_js_url

    return plotly_js_url()


@login_required
@require_POST
def pd_adopt_view(request, pk: int):
    from lending.federated_pd import federated_pd_adopt

    try:
        version = selectors.version_get(user=request.user, pk=pk)
    except ModelVersion.DoesNotExist as exc:
        raise Http404 from exc
    role = request.POST.get("role", "")
    try:
        federated_pd_adopt(actor=request.user, version=version, role=role)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Adopted: your lender now uses this model as its PD model.") if role == "champion"
                         else _("Adopted as a challenger beside your PD model."))
    return redirect(reverse("federation:tabular_results", args=[version.task_id]))


def grant_datasets_accept(request, grant):
    """The data-set side of ``grant_accept_view`` for a tabular task."""
    from .tabular_forms import GrantDatasetsForm

    form = GrantDatasetsForm(request.POST, grant=grant)
    if not form.is_valid():
        messages.error(request, _("Choose at least one of your uploads."))
        return None
    return list(form.cleaned_data["datasets"])

