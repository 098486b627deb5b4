"""Credit: lender policies, borrowers, facilities (collateral, covenants), financial statements, the PD model,
risk assessments and four-eyes adjustment proposals.

Money is ``Decimal`` (``MONEY``: 18 digits, 2 places); rates are ``Decimal`` fractions per year (0.045 = 4.5 %).
Probabilities and model outputs (PD, LGD, K) are floats: they are model numbers, not amounts.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 18, "decimal_places": 2}
RATE = {"max_digits": 8, "decimal_places": 6}
FRACTION = {"max_digits": 7, "decimal_places": 4}


class Currency(models.TextChoices):
    EUR = "EUR", "EUR"
    CNY = "CNY", "CNY"
    USD = "USD", "USD"


class LenderPolicy(models.Model):
    """A lender's pricing economics, risk appetite and review rules (one per lender; internal to the lender)."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.PROTECT, related_name="lending_policy")
    # Economics (fractions per year)
    funding_cost = models.DecimalField(_("funding cost"), default=Decimal("0.030"), **RATE)
    hurdle_return = models.DecimalField(_("hurdle return on capital"), default=Decimal("0.120"), **RATE)
    risk_free_return = models.DecimalField(_("risk-free return"), default=Decimal("0.025"), **RATE)
    operating_cost = models.DecimalField(_("operating cost"), default=Decimal("0.005"), **RATE)
    margin = models.DecimalField(_("target margin"), default=Decimal("0.005"), **RATE)
    # Appetite and caps
    pd_appetite = models.DecimalField(_("PD appetite"), default=Decimal("0.0800"), **FRACTION)
    max_expected_loss = models.DecimalField(_("expected-loss budget per name and year"), default=Decimal("150000"), **MONEY)
    capital_cap = models.DecimalField(_("capital allocation per name"), default=Decimal("1500000"), **MONEY)
    concentration_cap = models.DecimalField(_("single-name limit"), default=Decimal("30000000"), **MONEY)
    min_dscr = models.DecimalField(_("minimum debt-service cover"), default=Decimal("1.25"), **FRACTION)
    # Product bounds
    product_min_rate = models.DecimalField(_("lowest rate"), default=Decimal("0.020"), **RATE)
    product_max_rate = models.DecimalField(_("highest rate"), default=Decimal("0.150"), **RATE)
    product_min_limit = models.DecimalField(_("smallest limit"), default=Decimal("100000"), **MONEY)
    product_max_limit = models.DecimalField(_("largest limit"), default=Decimal("50000000"), **MONEY)
    product_min_tenor_months = models.PositiveSmallIntegerField(_("shortest tenor (months)"), default=12)
    product_max_tenor_months = models.PositiveSmallIntegerField(_("longest tenor (months)"), default=120)
    # Tolerance: smaller differences from the current terms never become proposals.
    rate_tolerance_bps = models.PositiveIntegerField(_("rate tolerance (bp)"), default=25)
    limit_tolerance_fraction = models.DecimalField(_("limit tolerance (fraction)"), default=Decimal("0.0500"), **FRACTION)
    max_rate_move_bps = models.PositiveIntegerField(_("largest rate move per review (bp)"), default=150)
    max_limit_move_fraction = models.DecimalField(_("largest limit move per review (fraction)"),
                                                  default=Decimal("0.2500"), **FRACTION)
    # Delegated authority: moves within both bounds need one checker, larger ones two.
    single_approval_max_rate_bps = models.PositiveIntegerField(_("one checker up to (bp)"), default=100)
    single_approval_max_limit_fraction = models.DecimalField(_("one checker up to (limit fraction)"),
                                                             default=Decimal("0.1000"), **FRACTION)
    # Equipment health in the PD overlay (logit units per z unit of the press's health index).
    health_sensitivity = models.DecimalField(_("health sensitivity g"), default=Decimal("0.1500"), **FRACTION)
    health_reference_z = models.DecimalField(_("healthy reference (z)"), default=Decimal("0.0000"), **FRACTION)
    health_tolerance_z = models.DecimalField(_("persistent-move tolerance (z)"), default=Decimal("1.0000"), **FRACTION)
    health_max_grade_move = models.PositiveSmallIntegerField(_("largest grade move per review from health"), default=1)
    health_smoothing = models.DecimalField(_("EWMA smoothing factor"), default=Decimal("0.3000"), **FRACTION)
    downtime_days_per_failure = models.DecimalField(_("downtime days per press failure"), default=Decimal("10.0"),
                                                    **FRACTION)
    press_revenue_share = models.DecimalField(_("revenue share of one press"), default=Decimal("0.2000"), **FRACTION)
    press_useful_life_years = models.PositiveSmallIntegerField(_("press useful life (years)"), default=30)
    # Review rules
    review_interval_days = models.PositiveSmallIntegerField(_("periodic review every (days)"), default=90)
    proposal_validity_days = models.PositiveSmallIntegerField(_("submitted proposals expire after (days)"), default=14)
    notice_days = models.PositiveSmallIntegerField(_("days of notice before a system proposal takes effect"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("lender policy")
        verbose_name_plural = _("lender policies")

    def __str__(self) -> str:
        return f"{self.organization} policy"


class Borrower(models.Model):
    """An enterprise as a lender's borrower (the relationship, owned by the lender)."""

    class RepaymentHistory(models.TextChoices):
        # The scorecard's "credit history" attribute (German credit codes A30..A34), recorded by the lender.
        NO_CREDITS = "no_credits", _("No credits taken before")
        ALL_PAID_HERE = "all_paid_here", _("All credits at this lender paid back duly")
        PAID_DULY = "paid_duly", _("Existing credits paid back duly so far")
        PAST_DELAYS = "past_delays", _("Delays in paying in the past")
        CRITICAL = "critical", _("Critical account / credits at other lenders")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="borrowers",
                                     verbose_name=_("lender"))
    enterprise = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="lender_relationships",
                                   verbose_name=_("enterprise"))
    name = models.CharField(_("name"), max_length=200)
    sector = models.CharField(_("sector"), max_length=120, blank=True)
    established_on = models.DateField(_("in business since"))
    repayment_history = models.CharField(_("repayment history"), max_length=20, choices=RepaymentHistory.choices,
                                         default=RepaymentHistory.PAID_DULY)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "enterprise"], name="borrower_once_per_lender")]
        verbose_name = _("borrower")

    def __str__(self) -> str:
        return self.name


class Facility(models.Model):
    class FacilityType(models.TextChoices):
        TERM_LOAN = "term_loan", _("Term loan")
        REVOLVING_LINE = "revolving_line", _("Revolving line")
        EQUIPMENT_LOAN = "equipment_loan", _("Equipment loan")

    class FacilityStatus(models.TextChoices):
        ACTIVE = "active", _("Active")
        CLOSED = "closed", _("Closed")

    class RepaymentKind(models.TextChoices):
        ANNUITY = "annuity", _("Level instalments (annuity)")
        LINEAR = "linear", _("Equal principal parts")
        BULLET = "bullet", _("All at maturity (bullet)")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="facilities",
                                     verbose_name=_("lender"))
    borrower = models.ForeignKey(Borrower, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("borrower"))
    reference = models.CharField(_("reference"), max_length=40)
    facility_type = models.CharField(_("type"), max_length=20, choices=FacilityType.choices)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.EUR)
    contract_limit = models.DecimalField(_("contracted limit"), **MONEY)
    limit = models.DecimalField(_("current limit"), **MONEY)
    drawn_amount = models.DecimalField(_("drawn"), **MONEY)
    base_rate = models.DecimalField(_("base rate"), **RATE)
    margin_rate = models.DecimalField(_("margin"), **RATE)
    tenor_months = models.PositiveSmallIntegerField(_("tenor (months)"))
    repayment_kind = models.CharField(_("repayment"), max_length=10, choices=RepaymentKind.choices,
                                      default=RepaymentKind.ANNUITY)
    interest_only_months = models.PositiveSmallIntegerField(_("interest-only months"), default=0)
    start_date = models.DateField(_("start date"))
    status = models.CharField(_("status"), max_length=10, choices=FacilityStatus.choices, default=FacilityStatus.ACTIVE)
    terms_effective_date = models.DateField(_("terms effective since"))
    last_change = models.ForeignKey("AdjustmentProposal", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    covenant_breached = models.BooleanField(_("covenant breached"), default=False)
    flagged_at = models.DateTimeField(null=True, blank=True)
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "reference"]
        constraints = [models.UniqueConstraint(fields=["organization", "reference"], name="facility_reference_per_lender")]
        permissions = [
            ("approve_adjustment", "Can approve, reject or return the facility's adjustment proposals"),
            ("view_facility_terms", "Can see the facility's terms and why they changed (borrower view)"),
        ]
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")

    def __str__(self) -> str:
        return self.reference

    @property
    def annual_rate(self) -> Decimal:
        return self.base_rate + self.margin_rate

    @property
    def is_active(self) -> bool:
        return self.status == self.FacilityStatus.ACTIVE


class Collateral(models.Model):
    """A press pledged to a facility, with its appraised value."""

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="collateral")
    press = models.ForeignKey("devices.Press", on_delete=models.PROTECT, related_name="pledges", verbose_name=_("press"))
    appraised_value = models.DecimalField(_("appraised value"), **MONEY)
    appraised_on = models.DateField(_("appraised on"))

    class Meta:
        ordering = ["facility", "press__name"]
        constraints = [models.UniqueConstraint(fields=["facility", "press"], name="press_pledged_once_per_facility")]
        verbose_name = _("collateral")


class Covenant(models.Model):
    class CovenantKind(models.TextChoices):
        MAX_ALARM_DAYS = "max_alarm_days", _("No pledged press in alarm for more than N days")
        MAX_HEALTH_INDEX_Z = "max_health_index_z", _("Smoothed health index of every pledged press at most (z)")
        MAX_DEBT_TO_EBITDA = "max_debt_to_ebitda", _("Debt / EBITDA at most")
        MIN_INTEREST_COVER = "min_interest_cover", _("Interest cover (EBITDA / interest) at least")
        MIN_DSCR = "min_dscr", _("Debt-service cover at least")

    class CovenantStatus(models.TextChoices):
        NOT_TESTED = "not_tested", _("Not tested")
        OK = "ok", _("Met")
        BREACHED = "breached", _("Breached")

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="covenants")
    covenant_kind = models.CharField(_("covenant"), max_length=30, choices=CovenantKind.choices)
    threshold = models.DecimalField(_("threshold"), max_digits=12, decimal_places=4)
    status = models.CharField(_("status"), max_length=12, choices=CovenantStatus.choices,
                              default=CovenantStatus.NOT_TESTED)
    last_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    breached_since = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["facility", "covenant_kind"]
        constraints = [models.UniqueConstraint(fields=["facility", "covenant_kind"], name="covenant_kind_once_per_facility")]
        verbose_name = _("covenant")

    @property
    def is_health_covenant(self) -> bool:
        return self.covenant_kind in (self.CovenantKind.MAX_ALARM_DAYS, self.CovenantKind.MAX_HEALTH_INDEX_Z)


class FinancialStatement(models.Model):
    class Source(models.TextChoices):
        FORM = "form", _("Form")
        CSV = "csv", _("CSV upload")
        API = "api", _("API")

    borrower = models.ForeignKey(Borrower, on_delete=models.PROTECT, related_name="financial_statements")
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.EUR)
    revenue = models.DecimalField(_("revenue"), **MONEY)
    ebitda = models.DecimalField(_("EBITDA"), **MONEY)
    interest_expense = models.DecimalField(_("interest expense"), **MONEY)
    total_debt = models.DecimalField(_("total debt"), **MONEY)
    current_assets = models.DecimalField(_("current assets"), **MONEY)
    current_liabilities = models.DecimalField(_("current liabilities"), **MONEY)
    cash = models.DecimalField(_("cash"), **MONEY)
    scheduled_principal = models.DecimalField(_("scheduled principal repayments"), default=Decimal("0"), **MONEY)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.FORM)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["borrower", "-period_end"]
        constraints = [models.UniqueConstraint(fields=["borrower", "period_start", "period_end"],
                                               name="statement_once_per_period")]
        verbose_name = _("financial statement")

    @property
    def organization(self):
        return self.borrower.organization


class PdModel(models.Model):
    """A trained PD scorecard (``lending.core.scorecard`` JSON), its validation and how it is applied."""

    version = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=120)
    scorecard = models.JSONField()
    variable_map = models.JSONField(default=list)  # [{variable, meaning, proxy}]
    validation = models.JSONField(default=dict)  # held-out AUC, Gini, KS, calibration, split
    calibration = models.JSONField(default=dict)  # prior correction to the portfolio's long-run default rate
    data_source = models.CharField(max_length=300)
    data_sha256 = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    trained_at = models.DateTimeField(auto_now_add=True)
    trained_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["-version"]
        verbose_name = _("PD model")

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ReviewTrigger(models.TextChoices):
    MANUAL = "manual", _("Officer")
    HEALTH_ALARM = "health_alarm", _("Health alarm")
    MODEL_PREDICTION = "model_prediction", _("Model prediction")
    NEW_FINANCIALS = "new_financials", _("New financial statement")
    SCHEDULE = "schedule", _("Periodic review")
    REPREVIEW = "repreview", _("Re-preview")


class RiskAssessment(models.Model):
    """One assessment of a facility: the inputs it saw and everything it concluded (immutable)."""

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="assessments")
    created_at = models.DateTimeField(auto_now_add=True)
    trigger = models.CharField(max_length=20, choices=ReviewTrigger.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    pd_model = models.ForeignKey(PdModel, on_delete=models.PROTECT, related_name="+")
    statement = models.ForeignKey(FinancialStatement, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    pd_financial = models.FloatField()
    pd = models.FloatField()
    grade = models.PositiveSmallIntegerField()
    lgd = models.FloatField()
    capital_k = models.FloatField()
    ead = models.DecimalField(**MONEY)
    expected_loss = models.DecimalField(**MONEY)
    capital = models.DecimalField(**MONEY)
    rwa = models.DecimalField(**MONEY)
    current_rate = models.DecimalField(**RATE)
    current_limit = models.DecimalField(**MONEY)
    current_tenor_months = models.PositiveSmallIntegerField()
    recommended_rate = models.DecimalField(**RATE)
    recommended_limit = models.DecimalField(**MONEY)
    recommended_tenor_months = models.PositiveSmallIntegerField()
    beyond_tolerance = models.BooleanField(default=False)
    health_shared = models.BooleanField(default=False)
    health = models.JSONField(default=list)
    ratios = models.JSONField(default=dict)
    drivers = models.JSONField(default=list)
    overlay = models.JSONField(default=dict)
    pricing = models.JSONField(default=dict)
    limit_analysis = models.JSONField(default=dict)
    terms_analysis = models.JSONField(default=dict)
    covenants = models.JSONField(default=list)
    notes = models.JSONField(default=list)
    inputs = models.JSONField(default=dict)
    inputs_hash = models.CharField(max_length=64, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("risk assessment")

    @property
    def organization(self):
        return self.facility.organization


class AdjustmentProposal(models.Model):
    """A proposed change of a facility's terms and its four-eyes life (LENDING.md): never an edit in place."""

    class ProposalStatus(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        APPROVED = "approved", _("Approved")
        SCHEDULED = "scheduled", _("Scheduled")
        APPLIED = "applied", _("Applied")
        RETURNED = "returned", _("Returned")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        EXPIRED = "expired", _("Expired")
        SUPERSEDED = "superseded", _("Superseded")

    class Reason(models.TextChoices):
        HEALTH_DETERIORATION = "health_deterioration", _("Equipment health deteriorated")
        HEALTH_RECOVERY = "health_recovery", _("Equipment health recovered")
        COVENANT_BREACH = "covenant_breach", _("Covenant breach")
        FINANCIAL_UPDATE = "financial_update", _("New financial statements")
        PERIODIC_REVIEW = "periodic_review", _("Periodic review")
        CUSTOMER_REQUEST = "customer_request", _("Customer request")
        MARKET_RATE = "market_rate", _("Market rate")

    class Origin(models.TextChoices):
        SYSTEM = "system", _("System review")
        OFFICER = "officer", _("Loan officer")

    OPEN_STATUSES = (ProposalStatus.DRAFT, ProposalStatus.RETURNED, ProposalStatus.SUBMITTED, ProposalStatus.APPROVED,
                     ProposalStatus.SCHEDULED)
    EDITABLE_STATUSES = (ProposalStatus.DRAFT, ProposalStatus.RETURNED)

    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("lender"))
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="proposals")
    assessment = models.ForeignKey(RiskAssessment, on_delete=models.PROTECT, related_name="proposals")
    origin = models.CharField(max_length=10, choices=Origin.choices)
    trigger = models.CharField(max_length=20, choices=ReviewTrigger.choices)
    status = models.CharField(_("status"), max_length=12, choices=ProposalStatus.choices, default=ProposalStatus.DRAFT)
    reason_code = models.CharField(_("reason"), max_length=30, choices=Reason.choices)
    reason_facts = models.JSONField(default=dict)  # what the plain-words reason mentions (press names, direction)
    message_to_borrower = models.CharField(_("message to the borrower"), max_length=500, blank=True)
    internal_note = models.CharField(_("internal note"), max_length=1000, blank=True)
    old_rate = models.DecimalField(**RATE)
    new_rate = models.DecimalField(**RATE)
    old_limit = models.DecimalField(**MONEY)
    new_limit = models.DecimalField(**MONEY)
    old_tenor_months = models.PositiveSmallIntegerField()
    new_tenor_months = models.PositiveSmallIntegerField()
    effective_date = models.DateField(_("effective date"))
    required_approvals = models.PositiveSmallIntegerField(default=1)
    snapshot = models.JSONField(default=dict)
    snapshot_hash = models.CharField(max_length=64, blank=True)
    inputs_hash = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.CharField(max_length=1000, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(
            fields=["facility"], condition=Q(status__in=["draft", "returned", "submitted", "approved", "scheduled"]),
            name="one_open_proposal_per_facility")]
        verbose_name = _("adjustment proposal")

    def __str__(self) -> str:
        return f"{self.facility} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def rate_change_bps(self) -> int:
        return int(round((self.new_rate - self.old_rate) * 10000))

    @property
    def limit_change_fraction(self) -> Decimal:
        return (self.new_limit - self.old_limit) / self.old_limit if self.old_limit else Decimal("0")

    @property
    def change_types(self) -> list[str]:
        changes = []
        if self.new_rate != self.old_rate:
            changes.append("rate")
        if self.new_limit != self.old_limit:
            changes.append("limit")
        if self.new_tenor_months != self.old_tenor_months:
            changes.append("tenor")
        return changes


class ProposalApproval(models.Model):
    """One checker's approval of the proposal as it stood (``inputs_hash``); a larger move needs two.
    Approvals given before a re-preview no longer count (their hash differs)."""

    proposal = models.ForeignKey(AdjustmentProposal, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(auto_now_add=True)
    comment = models.CharField(max_length=1000, blank=True)
    inputs_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["approved_at"]


from .abs_models import *  # noqa: E402,F401,F403  (ABS pools, structures and runs)
from .adoption_models import *  # noqa: E402,F401,F403  (federated PD models adopted by a lender)
