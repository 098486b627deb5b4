"""Write-side services of tabular federated tasks: uploads of loan books and production records, task
creation, and the data-set side of a grant. Everything else (grants, steps, envelopes, aggregation,
evaluation, registry, audit, progress) is the press-health machinery of ``federation.services``: a tabular
task is a ``FederatedTask`` whose ``dataset_kind`` says which data its participants' workers read
(``federation.tabular_data``).

Who may do what: loan officers of lenders upload loan books and start loan-book tasks with other lenders;
enterprise managers upload production records and start production tasks with other enterprises. Each
service checks the actor, validates everything before its first write, writes in one transaction and
records one audit event per change.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Organization, User
from accounts.permissions import grant as grant_perms
from accounts.roles import OrganizationKind
from audit.services import record

from . import services
from .core.messages import TrainingConfig
from .core.specs import MLPSpec
from .core.tabular import TabularDataError, parse_csv, schema_from_dict
from .core.tabular_schemas import SCHEMAS
from .models import (Aggregation, DataUseGrant, DatasetKind, FederatedTask, LabelSource, ModelKind,
                     TaskParticipant)
from .tabular_models import TabularDataset

DATASET_VIEW = "federation.view_tabulardataset"
DATASET_DELETE = "federation.delete_tabulardataset"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MIN_TARGET_ROWS = 20

ORGANIZATION_KIND_OF = {DatasetKind.LOAN_BOOK: OrganizationKind.LENDER,
                        DatasetKind.PRODUCTION: OrganizationKind.ENTERPRISE}

# Which models each kind of data trains, with the aggregation that suits them and tested defaults
# (tests/federation_tabular/test_core.py): a one-layer model is averaged (FedAvg); an MLP is matched (FedMA).
MODEL_TYPES = {
    DatasetKind.LOAN_BOOK: {
        "logistic": {"label": gettext_lazy("Logistic regression on binned/encoded features (FedAvg)"),
                     "hidden": (), "aggregation": Aggregation.FEDAVG, "rounds": 10, "epochs": 5,
                     "learning_rate": 0.02, "batch_size": 32, "weight_decay": 0.0},
        "mlp": {"label": gettext_lazy("Small neural network, 8 hidden units (FedMA)"),
                "hidden": (8,), "aggregation": Aggregation.FEDMA, "rounds": 3, "epochs": 5,
                "learning_rate": 0.01, "batch_size": 32, "weight_decay": 0.0},
    },
    DatasetKind.PRODUCTION: {
        "linear": {"label": gettext_lazy("Linear regression (FedAvg)"), "hidden": (), "aggregation": Aggregation.FEDAVG,
                   "rounds": 20, "epochs": 5, "learning_rate": 0.05, "batch_size": 16, "weight_decay": 0.0},
        "ridge": {"label": gettext_lazy("Ridge regression (FedAvg, L2 penalty 0.01)"), "hidden": (),
                  "aggregation": Aggregation.FEDAVG, "rounds": 20, "epochs": 5, "learning_rate": 0.05,
                  "batch_size": 16, "weight_decay": 0.01},
        "mlp": {"label": gettext_lazy("Small neural network, 8 hidden units (FedMA)"), "hidden": (8,),
                "aggregation": Aggregation.FEDMA, "rounds": 3, "epochs": 5, "learning_rate": 0.05,
                "batch_size": 16, "weight_decay": 0.0},
    },
}
TARGETS = {
    DatasetKind.LOAN_BOOK: {"defaulted": ModelKind.DEFAULT_RISK},
    DatasetKind.PRODUCTION: {"energy_mwh": ModelKind.ENERGY_USE, "co2_t": ModelKind.CO2_EMISSIONS},
}


def _acting_member(actor: User, kind: str) -> Organization:
    """The actor's organisation when the actor is the acting role of the kind of organisation that holds
    ``kind`` data (loan officer of a lender, enterprise manager of an enterprise)."""
    org = actor.organization
    wanted = ORGANIZATION_KIND_OF.get(kind)
    if org is None or not org.is_active or org.kind != wanted or services._acting_role(org) != actor.role:
        if kind == DatasetKind.LOAN_BOOK:
            raise PermissionDenied(_("Only loan officers of a lender can do this with loan books."))
        raise PermissionDenied(_("Only enterprise managers can do this with production records."))
    return org


def _summary(schema, table) -> dict:
    summary = {}
    for target in schema.targets:
        values = table.targets[target.name]
        measured = values[np.isfinite(values)]
        entry = {"measured": int(measured.size)}
        if measured.size:
            entry["mean"] = float(measured.mean())
        summary[target.name] = entry
    return summary


@transaction.atomic
def dataset_upload(*, actor: User, kind: str, name: str, content: bytes, column_map: dict | None = None
                   ) -> TabularDataset:
    """Validate a CSV against the shared schema of ``kind`` and store it for the actor's organisation.

    Raises ValidationError (``file``: schema mismatch or bad rows, naming the columns or lines) before
    anything is written: a rejected file leaves no row, file or audit event behind.
    """
    if kind not in SCHEMAS:
        raise ValidationError({"kind": _("Choose a kind of data.")})
    org = _acting_member(actor, kind)
    schema = SCHEMAS[kind]
    name = (name or "").strip()[:200]
    errors = {}
    if not name:
        errors["name"] = _("Name the data set.")
    content = bytes(content or b"")
    if len(content) > MAX_UPLOAD_BYTES:
        errors["file"] = _("The file is larger than %(mb)d MB.") % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)}
    column_map = {str(k): str(v).strip() for k, v in (column_map or {}).items() if str(v).strip()}
    table = None
    if "file" not in errors:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            errors["file"] = _("The file is not UTF-8 text.")
        else:
            try:
                table = parse_csv(text, schema, column_map)
            except TabularDataError as exc:
                errors["file"] = _describe(exc)
    sha256 = hashlib.sha256(content).hexdigest()
    if table is not None and TabularDataset.objects.filter(organization=org, sha256=sha256).exists():
        errors["file"] = _("This file was already uploaded.")
    if errors:
        raise ValidationError(errors)
    dataset = TabularDataset.objects.create(
        organization=org, kind=kind, name=name, schema=schema.to_dict(), column_map=column_map, content=content,
        sha256=sha256, rows=table.rows, summary=_summary(schema, table), uploaded_by=actor)
    grant_perms([DATASET_VIEW], dataset, org)
    grant_perms([DATASET_DELETE], dataset, org, roles=[services._acting_role(org)])
    record(actor=actor, action="federation.dataset.upload", obj=dataset, organization=org,
           after={"kind": kind, "name": name, "rows": table.rows, "sha256": sha256, "schema": schema.name,
                  "column_map": column_map, "summary": dataset.summary},
           payload={"kind": kind, "rows": table.rows, "sha256": sha256, "schema": schema.name})
    return dataset


def _describe(error: TabularDataError) -> str:
    if error.code == "schema_mismatch":
        return _("The file does not fit the shared schema: %(detail)s Map your columns to the schema's names "
                 "or rename them.") % {"detail": error.message}
    return _("The file was not stored: %(detail)s") % {"detail": error.message}


@transaction.atomic
def dataset_delete(*, actor: User, dataset: TabularDataset) -> None:
    """Delete an upload that no open task may still read."""
    dataset = TabularDataset.objects.select_for_update().get(pk=dataset.pk)
    if not actor.has_perm(DATASET_DELETE, dataset):
        raise PermissionDenied(_("Only the owner's officers or managers can delete its data."))
    if dataset.grants.exists():
        raise ValidationError(_("A task was granted this data set; it stays for the task's record."))
    record(actor=actor, action="federation.dataset.delete", obj=dataset, organization=dataset.organization,
           before={"name": dataset.name, "sha256": dataset.sha256, "rows": dataset.rows})
    dataset.delete()


def _task_description(kind: str, model_type: str, target: str, rounds: int) -> str:
    entry = MODEL_TYPES[kind][model_type]
    return (_("%(model)s predicting %(target)s on the shared schema %(schema)s; rounds: %(rounds)d")
            % {"model": entry["label"], "target": target, "schema": SCHEMAS[kind].name, "rounds": rounds})[:500]


@transaction.atomic
def tabular_task_create(*, actor: User, dataset_kind: str, purpose: str, organizations: list[Organization],
                        model_type: str, target: str, rounds: int | None = None, local_epochs: int | None = None,
                        learning_rate: float | None = None, min_participants: int = 2,
                        straggler_warning_s: int = 300, straggler_timeout_s: int = 900, seed: int = 0,
                        validation_fraction: float = 0.3, grant_expires_at=None) -> FederatedTask:
    """Start a federated task over the participants' uploaded data of ``dataset_kind`` (loan books of
    lenders, production records of enterprises), asking each named organisation for a data-use grant.

    The initiator's organisation takes part when it is named (a lender usually is)."""
    if dataset_kind not in MODEL_TYPES:
        raise ValidationError({"dataset_kind": _("Choose a kind of data.")})
    org = _acting_member(actor, dataset_kind)
    errors = {}
    purpose = (purpose or "").strip()
    if not purpose:
        errors["purpose"] = _("Say what the model is for.")
    entry = MODEL_TYPES[dataset_kind].get(model_type)
    if entry is None:
        errors["model_type"] = _("Choose a model.")
        entry = next(iter(MODEL_TYPES[dataset_kind].values()))
    if target not in TARGETS[dataset_kind]:
        errors["target"] = _("Choose what the model predicts.")
    organizations = list(dict.fromkeys(organizations))
    wanted_kind = ORGANIZATION_KIND_OF[dataset_kind]
    if len(organizations) < 2:
        errors["organizations"] = _("A federated task needs at least two participants.")
    for each in organizations:
        if each.kind != wanted_kind or not each.is_active:
            errors["organizations"] = _("%(name)s cannot take part with this kind of data.") % {"name": each.name}
    rounds = int(rounds or entry["rounds"])
    local_epochs = int(local_epochs or entry["epochs"])
    learning_rate = float(learning_rate or entry["learning_rate"])
    if not 1 <= rounds <= 50:
        errors["rounds"] = _("Run between 1 and 50 rounds.")
    if not 1 <= local_epochs <= 100:
        errors["local_epochs"] = _("Use between 1 and 100 local epochs.")
    if not 0 < learning_rate <= 1:
        errors["learning_rate"] = _("The learning rate must lie in (0, 1].")
    if not 2 <= int(min_participants) <= max(len(organizations), 2):
        errors["min_participants"] = _("The minimum must lie between 2 and the number of participants.")
    if not 0 < float(validation_fraction) < 1:
        errors["validation_fraction"] = _("The hold-out share must lie between 0 and 1.")
    if not 2 <= int(straggler_timeout_s) <= 7 * 86400 or not 1 <= int(straggler_warning_s) < int(straggler_timeout_s):
        errors["straggler_timeout_s"] = _("The deadline must lie between 2 s and 7 days, after the warning.")
    now = timezone.now()
    grant_expires_at = grant_expires_at or now + timedelta(days=30)
    if grant_expires_at <= now:
        errors["grant_expires_at"] = _("The grants must expire in the future.")
    if errors:
        raise ValidationError(errors)

    schema = SCHEMAS[dataset_kind]
    binary = schema.target(target).kind == "binary"
    spec = MLPSpec(input_dim=schema.encoded_width, hidden_sizes=entry["hidden"], num_classes=2 if binary else 1)
    training = TrainingConfig(epochs=local_epochs, learning_rate=learning_rate, batch_size=entry["batch_size"],
                              weight_decay=entry["weight_decay"], loss="cross_entropy" if binary else "mse")
    aggregation = entry["aggregation"]
    strategy = services._build_strategy(aggregation=aggregation, rounds=rounds, training=training, privacy=None,
                                        seed=int(seed))
    feature_config = {"name": "tabular", "version": 1, "schema": schema.to_dict(),
                      "schema_fingerprint": schema.fingerprint, "target": target, "model_type": model_type}
    task = FederatedTask.objects.create(
        initiator=org, created_by=actor, purpose=purpose[:500], model_kind=TARGETS[dataset_kind][target],
        dataset_kind=dataset_kind, spec=spec.to_dict(), strategy_name=aggregation,
        strategy_config=strategy.to_dict(), rounds=rounds, local_epochs=local_epochs,
        label_source=LabelSource.DATASET_TARGET, min_participants=int(min_participants),
        straggler_warning_s=int(straggler_warning_s), straggler_timeout_s=int(straggler_timeout_s),
        feature_config=feature_config, validation_fraction=float(validation_fraction), seed=int(seed),
        activate_on_finish=False, grant_expires_at=grant_expires_at,
        planned_steps=services.planned_steps(aggregation, rounds, spec))
    description = _task_description(dataset_kind, model_type, target, rounds)
    for each in organizations:
        grant = DataUseGrant.objects.create(
            task=task, organization=each, requester=org, requested_by=actor, purpose=purpose[:500],
            model_description=description, expires_at=grant_expires_at)
        grant_perms([services.GRANT_VIEW], grant, each)
        grant_perms([services.GRANT_VIEW], grant, org)
        grant_perms([services.GRANT_DECIDE], grant, each, roles=[services._acting_role(each)])
        TaskParticipant.objects.create(task=task, organization=each, grant=grant)
        record(actor=actor, action="federation.grant.request", obj=grant, organization=each,
               after=services._grant_state(grant))
    services._grant_task_perms(task, organizations)
    record(actor=actor, action="federation.task.create", obj=task, organization=org, after=services._task_state(task),
           payload={"participants": [o.slug for o in organizations], "dataset_kind": dataset_kind,
                    "model_type": model_type, "target": target, "schema": schema.name})
    return task


def grant_datasets_check(*, grant: DataUseGrant, datasets=None) -> list[TabularDataset]:
    """The data sets a grant of a tabular task may use (default: all the owner's uploads of the task's kind),
    each checked against the task's shared schema and target; raises ValidationError (``datasets``) naming
    what does not fit, so a participant learns it before any training."""
    task = grant.task
    own = TabularDataset.objects.filter(organization_id=grant.organization_id, kind=task.dataset_kind)
    chosen = list(own.order_by("pk")) if datasets is None else list(datasets)
    if any(d.organization_id != grant.organization_id or d.kind != task.dataset_kind for d in chosen):
        raise ValidationError({"datasets": _("Choose uploads of your own organisation, of the task's kind of data.")})
    if not chosen:
        raise ValidationError({"datasets": _("Upload a data set of this kind first, then accept.")})
    fingerprint = task.feature_config.get("schema_fingerprint")
    target = task.feature_config.get("target")
    for dataset in chosen:
        if schema_from_dict(dataset.schema).fingerprint != fingerprint:
            raise ValidationError({"datasets": _("%(name)s was validated against another schema than the task's "
                                                 "(%(schema)s); upload it again.")
                                   % {"name": dataset.name, "schema": task.feature_config["schema"]["name"]}})
        measured = (dataset.summary.get(target) or {}).get("measured", 0)
        if measured < MIN_TARGET_ROWS:
            raise ValidationError({"datasets": _("%(name)s has %(n)d rows with %(target)s; the task needs at least "
                                                 "%(min)d.") % {"name": dataset.name, "n": measured,
                                                                "target": target, "min": MIN_TARGET_ROWS}})
    return chosen
