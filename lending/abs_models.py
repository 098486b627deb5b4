"""Asset-backed securities: asset pools, capital structures and simulation runs (DESIGN.md flow 7).

Everything here is owned by a lender (``organization``) and versioned: a pool version freezes its facility list
and each facility's inputs (drawn balance, PD and LGD of its latest risk assessment, remaining term, rate,
health band ...) at the time it is made, and never changes; a new list or fresher inputs make a new version.
A capital structure version holds the deal in the STRUCTURE.json layout of ``lending.core.abs.cli`` (tranche
attachment points as fractions of the pool, waterfall, reserve, over-collateralisation tests, assumptions),
validated by ``lending.core.abs.structure_from_dict``. A simulation run records the exact engine inputs it used
(``inputs``), its seed and scenario count, and its results; the same inputs and seed reproduce the results
exactly.

Imported at the end of ``lending/models.py`` so that Django sees these models as the ``lending`` app's.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["AssetPool", "CapitalStructure", "PoolFacility", "SimulationRun"]

ABS_MONEY = {"max_digits": 18, "decimal_places": 2}
ABS_RATE = {"max_digits": 8, "decimal_places": 6}


class AssetPool(models.Model):
    """One version of a lender's asset pool. Versions of the same pool share ``name``; ``version`` counts
    from 1 and ``previous`` is the version it was made from. Immutable once created."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("lender"))
    name = models.CharField(_("name"), max_length=120)
    version = models.PositiveIntegerField(_("version"), default=1)
    previous = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    description = models.CharField(_("description"), max_length=500, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    as_of = models.DateField(_("inputs as of"))
    facility_count = models.PositiveIntegerField(_("facilities"))
    obligor_count = models.PositiveIntegerField(_("obligors"))
    total_balance = models.DecimalField(_("pool balance"), **ABS_MONEY)
    # Stratification, concentration and weighted averages of the frozen inputs (``abs_inputs.pool_analysis``).
    analysis = models.JSONField(default=dict)
    inputs_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["organization", "name", "version"],
                                               name="asset_pool_version_once")]
        verbose_name = _("asset pool")

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class PoolFacility(models.Model):
    """A facility in a pool version, with the inputs frozen when the version was made."""

    pool = models.ForeignKey(AssetPool, on_delete=models.CASCADE, related_name="members")
    facility = models.ForeignKey("lending.Facility", on_delete=models.PROTECT, related_name="+")
    assessment = models.ForeignKey("lending.RiskAssessment", on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(_("reference"), max_length=40)
    borrower = models.ForeignKey("lending.Borrower", on_delete=models.PROTECT, related_name="+")
    borrower_name = models.CharField(_("borrower"), max_length=200)
    facility_type = models.CharField(_("type"), max_length=20)
    balance = models.DecimalField(_("balance (drawn)"), **ABS_MONEY)
    annual_rate = models.DecimalField(_("rate"), **ABS_RATE)
    pd_annual = models.FloatField(_("PD (12 months)"))
    lgd = models.FloatField(_("LGD"))
    grade = models.PositiveSmallIntegerField(_("grade"))
    remaining_months = models.PositiveSmallIntegerField(_("remaining term (months)"))
    amortisation = models.CharField(_("repayment"), max_length=10)
    sector = models.CharField(_("industry"), max_length=120)
    region = models.CharField(_("region"), max_length=120)
    # Worst alarm level (0..3) of the pledged presses whose health the enterprise shares; None when none is shared.
    health_level = models.PositiveSmallIntegerField(_("health level"), null=True, blank=True)
    # The level the assessment priced the collateral at (an unshared press counts as 1, "watch"); 0 unsecured.
    condition_level = models.PositiveSmallIntegerField(default=0)
    pledged_presses = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["pool", "reference"]
        constraints = [models.UniqueConstraint(fields=["pool", "facility"], name="facility_once_per_pool_version")]
        verbose_name = _("pool facility")


class CapitalStructure(models.Model):
    """One version of a capital structure, designed on ``pool`` (the version it was made for; a run may
    apply it to any version of the lender's pools). ``definition`` is the STRUCTURE.json layout, tranches
    senior first; ``sizing`` records how the attachment points were found when the portal sized them."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("lender"))
    pool = models.ForeignKey(AssetPool, on_delete=models.PROTECT, related_name="structures")
    name = models.CharField(_("name"), max_length=120)
    version = models.PositiveIntegerField(_("version"), default=1)
    previous = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    definition = models.JSONField()
    sizing = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["organization", "name", "version"],
                                               name="capital_structure_version_once")]
        verbose_name = _("capital structure")

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def tranches(self) -> list[dict]:
        return list(self.definition.get("tranches", []))


class SimulationRun(models.Model):
    """A Monte Carlo run of a pool version through a structure version (or a what-if re-run of one)."""

    class Kind(models.TextChoices):
        SIMULATION = "simulation", _("Simulation")
        WHAT_IF = "what_if", _("What-if")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("lender"))
    pool = models.ForeignKey(AssetPool, on_delete=models.PROTECT, related_name="runs")
    structure = models.ForeignKey(CapitalStructure, on_delete=models.PROTECT, related_name="runs")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SIMULATION)
    base_run = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="what_ifs")
    rerun_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    scenarios = models.PositiveIntegerField(_("scenarios"))
    seed = models.BigIntegerField(_("seed"))
    shock = models.JSONField(default=dict, blank=True)
    # The engine's exact inputs: obligor rows, structure definition, scenarios, seed, shock (``abs_inputs``).
    inputs = models.JSONField()
    inputs_hash = models.CharField(max_length=64)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    results = models.JSONField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "status"])]
        verbose_name = _("simulation run")

    def __str__(self) -> str:
        return f"run #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


# The worker learns the ABS task wherever the models load (Celery autodiscovers only ``lending.tasks``).
from . import abs_tasks  # noqa: E402,F401
