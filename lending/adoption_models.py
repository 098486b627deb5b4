"""A lender's adoption of a federated PD model (``federation.ModelVersion`` of a loan-book task).

``champion``: the lender's own PD model of record for its federated loan-book scoring; ``challenger``: run
beside the champion for comparison. Each adoption keeps the validation the lender saw when it adopted (its own
hold-out: AUC, KS, calibration by grade); only the lender sees it.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class FederatedPdAdoption(models.Model):
    class Role(models.TextChoices):
        CHAMPION = "champion", _("PD model (champion)")
        CHALLENGER = "challenger", _("Challenger")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("lender"))
    version = models.ForeignKey("federation.ModelVersion", on_delete=models.PROTECT, related_name="pd_adoptions")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    validation = models.JSONField(default=dict)  # the lender's own hold-out: auc, ks, calibration, samples
    is_current = models.BooleanField(default=True)
    adopted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    adopted_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-adopted_at"]
        verbose_name = _("adopted federated PD model")
        constraints = [
            models.UniqueConstraint(fields=["organization"], condition=Q(is_current=True, role="champion"),
                                    name="one_current_federated_pd_champion_per_lender"),
            models.UniqueConstraint(fields=["organization", "version", "role"], condition=Q(is_current=True),
                                    name="one_current_adoption_per_lender_version_role"),
        ]
