from django.contrib import admin

from portal.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import (AdjustmentProposal, Borrower, Collateral, Covenant, Facility, FinancialStatement, LenderPolicy,
                     PdModel, ProposalApproval, RiskAssessment)


class CollateralInline(ReadOnlyInline):
    model = Collateral
    extra = 0


class CovenantInline(ReadOnlyInline):
    model = Covenant
    extra = 0


class ApprovalInline(ReadOnlyInline):
    model = ProposalApproval
    extra = 0
    readonly_fields = ["approver", "approved_at", "comment", "inputs_hash"]


@admin.register(Facility)
class FacilityAdmin(ReadOnlyAdmin):
    list_display = ["reference", "organization", "borrower", "facility_type", "limit", "status", "covenant_breached"]
    list_filter = ["organization", "facility_type", "status"]
    inlines = [CollateralInline, CovenantInline]


@admin.register(Borrower)
class BorrowerAdmin(ReadOnlyAdmin):
    list_display = ["name", "organization", "enterprise", "repayment_history"]


@admin.register(AdjustmentProposal)
class AdjustmentProposalAdmin(ReadOnlyAdmin):
    """Read-only: proposals change only through the four-eyes services (each change audited)."""

    list_display = ["id", "facility", "status", "reason_code", "old_rate", "new_rate", "effective_date"]
    list_filter = ["status", "reason_code"]
    inlines = [ApprovalInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RiskAssessment)
class RiskAssessmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "facility", "created_at", "trigger", "pd", "lgd", "beyond_tolerance"]

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register(FinancialStatement, ReadOnlyAdmin)
admin.site.register(LenderPolicy, ReadOnlyAdmin)
admin.site.register(PdModel, ReadOnlyAdmin)
