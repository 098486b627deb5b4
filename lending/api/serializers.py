from rest_framework import serializers

from ..models import (AdjustmentProposal, Borrower, Collateral, Covenant, Facility, FinancialStatement, LenderPolicy,
                      PdModel, ProposalApproval, RiskAssessment)
from ..reasons import borrower_explanation

AMOUNT = {"max_digits": 18, "decimal_places": 2}


class BorrowerSerializer(serializers.ModelSerializer):
    lender = serializers.SlugRelatedField(source="organization", slug_field="slug", read_only=True)
    enterprise = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Borrower
        fields = ["id", "lender", "enterprise", "name", "sector", "established_on", "repayment_history", "created_at"]
        read_only_fields = fields


class BorrowerCreateSerializer(serializers.Serializer):
    enterprise = serializers.SlugField(help_text="short name (slug) of the enterprise")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    sector = serializers.CharField(max_length=120, required=False, allow_blank=True)
    established_on = serializers.DateField()
    repayment_history = serializers.ChoiceField(choices=Borrower.RepaymentHistory.choices, required=False)


class CollateralSerializer(serializers.ModelSerializer):
    press_name = serializers.CharField(source="press.name", read_only=True)

    class Meta:
        model = Collateral
        fields = ["press", "press_name", "appraised_value", "appraised_on"]


class CovenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Covenant
        fields = ["covenant_kind", "threshold", "status", "last_value", "last_tested_at", "breached_since", "note"]
        read_only_fields = ["status", "last_value", "last_tested_at", "breached_since", "note"]


class FacilitySerializer(serializers.ModelSerializer):
    """The lender's view of a facility."""

    lender = serializers.SlugRelatedField(source="organization", slug_field="slug", read_only=True)
    annual_rate = serializers.DecimalField(max_digits=8, decimal_places=6, read_only=True)
    collateral = CollateralSerializer(many=True, read_only=True)
    covenants = CovenantSerializer(many=True, read_only=True)

    class Meta:
        model = Facility
        fields = ["id", "lender", "borrower", "reference", "facility_type", "currency", "contract_limit", "limit",
                  "drawn_amount", "base_rate", "margin_rate", "annual_rate", "tenor_months", "repayment_kind",
                  "interest_only_months", "start_date", "status", "terms_effective_date", "covenant_breached",
                  "flagged_at", "last_reviewed_at", "collateral", "covenants", "created_at"]
        read_only_fields = fields


class CollateralInputSerializer(serializers.Serializer):
    press = serializers.IntegerField()
    appraised_value = serializers.DecimalField(**AMOUNT)
    appraised_on = serializers.DateField()


class CovenantInputSerializer(serializers.Serializer):
    covenant_kind = serializers.ChoiceField(choices=Covenant.CovenantKind.choices)
    threshold = serializers.DecimalField(max_digits=12, decimal_places=4)


class FacilityCreateSerializer(serializers.Serializer):
    borrower = serializers.IntegerField()
    reference = serializers.CharField(max_length=40)
    facility_type = serializers.ChoiceField(choices=Facility.FacilityType.choices)
    currency = serializers.ChoiceField(choices=["EUR", "CNY", "USD"], default="EUR")
    limit = serializers.DecimalField(**AMOUNT)
    drawn_amount = serializers.DecimalField(**AMOUNT)
    base_rate = serializers.DecimalField(max_digits=8, decimal_places=6, help_text="fraction per year (0.03 = 3 %)")
    margin_rate = serializers.DecimalField(max_digits=8, decimal_places=6, help_text="fraction per year")
    tenor_months = serializers.IntegerField(min_value=1)
    repayment_kind = serializers.ChoiceField(choices=Facility.RepaymentKind.choices, default="annuity")
    interest_only_months = serializers.IntegerField(min_value=0, default=0)
    start_date = serializers.DateField()
    collateral = CollateralInputSerializer(many=True, required=False)
    covenants = CovenantInputSerializer(many=True, required=False)


class FinancialStatementSerializer(serializers.ModelSerializer):
    class Meta:
        model = FinancialStatement
        fields = ["id", "borrower", "period_start", "period_end", "currency", "revenue", "ebitda", "interest_expense",
                  "total_debt", "current_assets", "current_liabilities", "cash", "scheduled_principal", "source",
                  "entered_at"]
        read_only_fields = fields


class FinancialStatementInputSerializer(serializers.Serializer):
    """Amounts as decimal strings or numbers in ``unit`` (units, thousands, millions) of ``currency``."""

    period_start = serializers.CharField(help_text="YYYY-MM-DD")
    period_end = serializers.CharField(help_text="YYYY-MM-DD")
    unit = serializers.ChoiceField(choices=["units", "thousands", "millions"], default="units")
    currency = serializers.CharField(max_length=3, required=False)
    revenue = serializers.CharField()
    ebitda = serializers.CharField()
    interest_expense = serializers.CharField()
    total_debt = serializers.CharField()
    current_assets = serializers.CharField()
    current_liabilities = serializers.CharField()
    cash = serializers.CharField()
    scheduled_principal = serializers.CharField(required=False, allow_blank=True)


class StatementUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV with a header row, one statement per row")


class RiskAssessmentSerializer(serializers.ModelSerializer):
    pd_model = serializers.IntegerField(source="pd_model.version", read_only=True)

    class Meta:
        model = RiskAssessment
        fields = ["id", "facility", "created_at", "trigger", "pd_model", "statement", "pd_financial", "pd", "grade",
                  "lgd", "capital_k", "ead", "expected_loss", "capital", "rwa", "current_rate", "current_limit",
                  "current_tenor_months", "recommended_rate", "recommended_limit", "recommended_tenor_months",
                  "beyond_tolerance", "health_shared", "health", "ratios", "drivers", "overlay", "pricing",
                  "limit_analysis", "terms_analysis", "covenants", "notes", "inputs_hash"]
        read_only_fields = fields


class ApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username", read_only=True)

    class Meta:
        model = ProposalApproval
        fields = ["approver", "approved_at", "comment", "inputs_hash"]
        read_only_fields = fields


class AdjustmentSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True, allow_null=True,
                                         default=None)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, allow_null=True, default=None)
    approvals = ApprovalSerializer(many=True, read_only=True)
    change_types = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = AdjustmentProposal
        fields = ["id", "facility", "assessment", "origin", "trigger", "status", "reason_code", "reason_facts",
                  "message_to_borrower", "internal_note", "change_types", "old_rate", "new_rate", "old_limit",
                  "new_limit", "old_tenor_months", "new_tenor_months", "effective_date", "required_approvals",
                  "approvals", "snapshot_hash", "inputs_hash", "created_by", "created_at", "submitted_by",
                  "submitted_at", "decided_by", "decided_at", "decision_comment", "applied_at"]
        read_only_fields = fields


class SnapshotSerializer(serializers.Serializer):
    snapshot_hash = serializers.CharField()
    inputs_hash = serializers.CharField()
    snapshot = serializers.JSONField(help_text="the inputs frozen at submission and the numbers behind the proposal")


class AdjustmentDraftSerializer(serializers.Serializer):
    new_rate = serializers.DecimalField(max_digits=8, decimal_places=6, help_text="fraction per year")
    new_limit = serializers.DecimalField(**AMOUNT)
    new_tenor_months = serializers.IntegerField(min_value=1)
    effective_date = serializers.DateField()
    reason_code = serializers.ChoiceField(choices=AdjustmentProposal.Reason.choices)
    message_to_borrower = serializers.CharField(max_length=500, required=False, allow_blank=True)
    internal_note = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class MyTermsSerializer(serializers.ModelSerializer):
    """What an enterprise sees of its facility: the outcome, its date and the reasons — no lender internals."""

    lender = serializers.CharField(source="organization.name", read_only=True)
    current_rate = serializers.DecimalField(source="annual_rate", max_digits=8, decimal_places=6, read_only=True)
    effective_date = serializers.DateField(source="terms_effective_date", read_only=True)
    reason = serializers.SerializerMethodField()

    class Meta:
        model = Facility
        fields = ["id", "lender", "facility_type", "currency", "current_rate", "limit", "effective_date", "reason"]
        read_only_fields = fields

    def get_reason(self, facility) -> str:
        change = facility.last_change
        return borrower_explanation(change, facility.currency) if change is not None else ""


class PdModelSerializer(serializers.ModelSerializer):
    intercept = serializers.FloatField(source="scorecard.intercept", read_only=True)
    coefficients = serializers.SerializerMethodField()

    class Meta:
        model = PdModel
        fields = ["version", "name", "trained_at", "data_source", "data_sha256", "validation", "calibration",
                  "variable_map", "intercept", "coefficients"]
        read_only_fields = fields

    def get_coefficients(self, model) -> dict[str, float]:
        names = [variable["name"] for variable in model.scorecard["variables"]]
        return dict(zip(names, model.scorecard["coefficients"], strict=True))


class LenderPolicySerializer(serializers.ModelSerializer):
    lender = serializers.SlugRelatedField(source="organization", slug_field="slug", read_only=True)

    class Meta:
        model = LenderPolicy
        exclude = ["id", "organization"]
        read_only_fields = ["lender", "updated_at"]
