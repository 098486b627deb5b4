"""A lender adopts a federated PD model (the final global model of a loan-book task it took part in) as its
PD model of record (champion) or as a challenger.

Services (write, audited) and selectors (read) in one small module: the model row is
``lending.adoption_models.FederatedPdAdoption``; the validation figures come from the lender's own hold-out
(``federation.tabular_data.lender_validation``) and are shown to that lender only.
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import grant as grant_perms
from accounts.roles import OrganizationKind, Role
from audit.services import record

from .adoption_models import FederatedPdAdoption

ADOPTION_VIEW = "lending.view_federatedpdadoption"


def _participated(version, organization) -> bool:
    from federation.models import TaskParticipant

    return TaskParticipant.objects.filter(task_id=version.task_id, organization=organization,
                                          joined_at__isnull=False).exists()


@transaction.atomic
def federated_pd_adopt(*, actor, version, role: str) -> FederatedPdAdoption:
    """Adopt ``version`` for the actor's lender as ``champion`` (replacing its current champion) or as a
    ``challenger``. Only a loan officer of a lender that took part in the task adopts, and only the task's
    final model of a finished loan-book task."""
    from federation.models import DatasetKind, FederatedTask, ModelVersion
    from federation.tabular_data import lender_validation

    org = actor.organization
    if org is None or org.kind != OrganizationKind.LENDER or actor.role != Role.LOAN_OFFICER:
        raise PermissionDenied(_("Only loan officers adopt PD models for their lender."))
    version = ModelVersion.objects.select_for_update(of=("self",)).select_related("task").get(pk=version.pk)
    if not _participated(version, org):
        raise PermissionDenied(_("Only a lender that took part in the task can adopt its model."))
    if role not in FederatedPdAdoption.Role.values:
        raise ValidationError({"role": _("Choose champion or challenger.")})
    if version.task.dataset_kind != DatasetKind.LOAN_BOOK:
        raise ValidationError(_("Only models trained on loan books are PD models."))
    if version.task.status != FederatedTask.Status.FINISHED or not version.is_final:
        raise ValidationError(_("Only the final model of a finished task can be adopted."))
    current = FederatedPdAdoption.objects.select_for_update().filter(organization=org, is_current=True)
    if current.filter(version=version, role=role).exists():
        raise ValidationError(_("Your lender already uses this model in this role."))
    validation = lender_validation(version, org)
    replaced = []
    now = timezone.now()
    for old in current.filter(role=role) if role == FederatedPdAdoption.Role.CHAMPION else []:
        old.is_current, old.retired_at = False, now
        old.save(update_fields=["is_current", "retired_at"])
        replaced.append(old.pk)
    adoption = FederatedPdAdoption.objects.create(organization=org, version=version, role=role,
                                                  validation=validation, adopted_by=actor)
    grant_perms([ADOPTION_VIEW], adoption, org)
    record(actor=actor, action="lending.pd_model.adopt_federated", obj=adoption, organization=org,
           after={"version": version.sha256, "task": version.task_id, "role": role, "replaced": replaced,
                  "validation": {k: validation.get(k) for k in ("samples", "auc", "ks", "gini")}})
    return adoption


def federated_pd_current(*, organization):
    """The lender's current adoptions (champion first)."""
    return (FederatedPdAdoption.objects.filter(organization=organization, is_current=True)
            .select_related("version__task").order_by("role", "-adopted_at"))


def federated_pd_for(*, organization, applicant: dict, target_default_rate: float) -> dict | None:
    """The PD of an applicant (``lending.pd_model.applicant_values``: the loan-book schema's attributes) from the
    lender's current champion federated model, calibrated like the scorecard: the log-odds are shifted by the
    prior correction (King & Zeng 2001) from the lender's own loan-book default rate to ``target_default_rate``.
    ``None`` when the lender has adopted no federated PD model."""
    import math

    from scipy.special import expit, logit

    from federation.core.specs import spec_from_dict
    from federation.core.tabular import encode_record, schema_from_dict
    from federation.core.training import predict_probabilities
    from federation.crypto import decode_weights

    from .pd_model import prior_correction_shift

    adoption = (FederatedPdAdoption.objects.filter(organization=organization, is_current=True,
                                                   role=FederatedPdAdoption.Role.CHAMPION)
                .select_related("version").first())
    if adoption is None:
        return None
    version = adoption.version
    schema = schema_from_dict(version.feature_config["schema"])
    features = encode_record(schema, applicant)[None, :]
    pd_sample = float(predict_probabilities(spec_from_dict(version.spec), decode_weights(version.weights), features)[0, 1])
    sample_rate = adoption.validation.get("default_rate")
    pd = pd_sample
    if sample_rate and 0 < sample_rate < 1:
        shift = prior_correction_shift(float(sample_rate), float(target_default_rate))
        pd = float(expit(logit(min(max(pd_sample, 1e-9), 1 - 1e-9)) - shift))
    return {"pd": pd if math.isfinite(pd) else pd_sample, "pd_sample": pd_sample, "version": version.sha256,
            "adoption": adoption.pk}


def federated_pd_champion_sha(organization) -> str | None:
    """The hash of the lender's current champion federated PD model (part of a facility's assessment inputs)."""
    return (FederatedPdAdoption.objects.filter(organization=organization, is_current=True,
                                               role=FederatedPdAdoption.Role.CHAMPION)
            .values_list("version__sha256", flat=True).first())
