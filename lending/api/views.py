"""Credit API: borrowers and their statements, facilities, assessments, adjustment proposals with their four-eyes
actions, the enterprise's own terms, the PD model and the lender's policy.

Objects outside the caller's scope are 404; a forbidden action on a visible object is 403 (the services decide
who may act: e.g. the maker of a proposal can never approve it)."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import parsers, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Organization
from accounts.roles import OrganizationKind
from devices.models import Press

from .. import selectors, services
from . import serializers as s


class _ScopedViewSet(viewsets.ReadOnlyModelViewSet):
    """Read-only over a selector's queryset (already scoped to the caller); actions check object permissions
    in the services."""

    permission_classes = [permissions.IsAuthenticated]

    def filter_queryset(self, queryset):
        return queryset


class BorrowerViewSet(_ScopedViewSet):
    """The lender's borrowers (loan officers record them; the lender's auditors read)."""

    serializer_class = s.BorrowerSerializer

    def get_queryset(self):
        return selectors.borrower_list(user=self.request.user)

    @extend_schema(request=s.BorrowerCreateSerializer, responses={201: s.BorrowerSerializer})
    def create(self, request):
        data = s.BorrowerCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        enterprise = Organization.objects.filter(slug=values.pop("enterprise"), kind=OrganizationKind.ENTERPRISE).first()
        if request.user.organization is None:
            raise PermissionDenied
        if enterprise is None:
            raise ValidationError({"enterprise": ["No enterprise with that short name."]})
        borrower = services.borrower_create(actor=request.user, lender=request.user.organization,
                                            enterprise=enterprise, **values)
        return Response(s.BorrowerSerializer(borrower).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses=s.FinancialStatementSerializer(many=True))
    @extend_schema(methods=["POST"], request={"application/json": s.FinancialStatementInputSerializer,
                                              "multipart/form-data": s.StatementUploadSerializer},
                   responses={201: s.FinancialStatementSerializer(many=True)})
    @action(detail=True, methods=["get", "post"],
            parser_classes=[parsers.JSONParser, parsers.MultiPartParser, parsers.FormParser])
    def financials(self, request, pk=None):
        """The borrower's statements; POST one as JSON, or several as a CSV file (all rows valid or none stored)."""
        borrower = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(selectors.statement_list(user=request.user, borrower=borrower))
            return self.get_paginated_response(s.FinancialStatementSerializer(page, many=True).data)
        if "file" in request.FILES:
            upload = s.StatementUploadSerializer(data=request.data)
            upload.is_valid(raise_exception=True)
            statements = services.financial_statements_import_csv(actor=request.user, borrower=borrower,
                                                                  uploaded_file=upload.validated_data["file"])
        else:
            data = s.FinancialStatementInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            statements = [services.financial_statement_create(actor=request.user, borrower=borrower, source="api",
                                                              **data.validated_data)]
        return Response(s.FinancialStatementSerializer(statements, many=True).data, status=status.HTTP_201_CREATED)


class FinancialStatementViewSet(_ScopedViewSet):
    serializer_class = s.FinancialStatementSerializer

    def get_queryset(self):
        return selectors.statement_list(user=self.request.user)


class FacilityViewSet(_ScopedViewSet):
    """Facilities of the caller's lender (officers act; the lender's auditors read)."""

    serializer_class = s.FacilitySerializer

    def get_queryset(self):
        return selectors.facility_list(user=self.request.user).prefetch_related("collateral__press", "covenants")

    @extend_schema(request=s.FacilityCreateSerializer, responses={201: s.FacilitySerializer})
    def create(self, request):
        data = s.FacilityCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        borrower = selectors.borrower_list(user=request.user).filter(pk=values.pop("borrower")).first()
        if borrower is None:
            raise ValidationError({"borrower": ["No such borrower of yours."]})
        values["collateral"] = [{**item, "press": Press.objects.filter(pk=item["press"]).first()}
                                for item in values.get("collateral", [])]
        facility = services.facility_create(actor=request.user, borrower=borrower, **values)
        return Response(s.FacilitySerializer(facility).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.RiskAssessmentSerializer})
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Assess the facility now; a change of terms beyond tolerance becomes a draft proposal."""
        facility = self.get_object()
        outcome = services.facility_review(facility_id=facility.pk, trigger="manual", actor=request.user)
        body = s.RiskAssessmentSerializer(outcome.assessment).data
        body = {**body, "proposal": outcome.proposal.pk if outcome.proposal else None, "skipped": outcome.skipped}
        return Response(body)

    @extend_schema(responses=s.RiskAssessmentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def assessments(self, request, pk=None):
        facility = self.get_object()
        page = self.paginate_queryset(selectors.assessment_list(user=request.user, facility=facility))
        return self.get_paginated_response(s.RiskAssessmentSerializer(page, many=True).data)

    @extend_schema(methods=["GET"], responses=s.AdjustmentSerializer(many=True))
    @extend_schema(methods=["POST"], request=s.AdjustmentDraftSerializer, responses={201: s.AdjustmentSerializer})
    @action(detail=True, methods=["get", "post"])
    def proposals(self, request, pk=None):
        """The facility's proposals; POST drafts one by hand (a loan officer of the lender)."""
        facility = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(selectors.proposal_list(user=request.user, facility=facility)
                                          .order_by("-created_at", "-pk"))
            return self.get_paginated_response(s.AdjustmentSerializer(page, many=True).data)
        data = s.AdjustmentDraftSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = services.adjustment_draft(actor=request.user, facility=facility, **data.validated_data)
        return Response(s.AdjustmentSerializer(proposal).data, status=status.HTTP_201_CREATED)


class RiskAssessmentViewSet(_ScopedViewSet):
    serializer_class = s.RiskAssessmentSerializer

    def get_queryset(self):
        return selectors.assessment_list(user=self.request.user)


class AdjustmentViewSet(_ScopedViewSet):
    """Adjustment proposals and their four-eyes transitions (each refused with 400 when illegal, 403 when the
    caller may not take it: the maker never decides)."""

    serializer_class = s.AdjustmentSerializer

    def get_queryset(self):
        return selectors.proposal_list(user=self.request.user, status=self.request.query_params.get("status"))\
            .order_by("-created_at", "-pk")

    def _transition(self, request, service, *, comment: bool):
        proposal = self.get_object()
        kwargs = {}
        if comment:
            data = s.DecisionSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            kwargs["comment"] = data.validated_data.get("comment", "")
        proposal = service(actor=request.user, proposal=proposal, **kwargs)
        proposal = selectors.proposal_get(user=request.user, pk=proposal.pk)
        return Response(s.AdjustmentSerializer(proposal).data)

    @extend_schema(responses=s.SnapshotSerializer)
    @action(detail=True, methods=["get"])
    def snapshot(self, request, pk=None):
        """The frozen snapshot of the inputs (empty before submission) and its hash."""
        proposal = self.get_object()
        return Response({"snapshot_hash": proposal.snapshot_hash, "inputs_hash": proposal.inputs_hash,
                         "snapshot": proposal.snapshot})

    @extend_schema(request=None, responses=s.AdjustmentSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._transition(request, services.adjustment_submit, comment=False)

    @extend_schema(request=s.DecisionSerializer, responses=s.AdjustmentSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._transition(request, services.adjustment_approve, comment=True)

    @extend_schema(request=s.DecisionSerializer, responses=s.AdjustmentSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._transition(request, services.adjustment_reject, comment=True)

    @extend_schema(request=s.DecisionSerializer, responses=s.AdjustmentSerializer)
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_to_maker(self, request, pk=None):
        return self._transition(request, services.adjustment_return, comment=True)

    @extend_schema(request=s.DecisionSerializer, responses=s.AdjustmentSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self._transition(request, services.adjustment_withdraw, comment=True)

    @extend_schema(request=None, responses=s.AdjustmentSerializer)
    @action(detail=True, methods=["post"])
    def repreview(self, request, pk=None):
        return self._transition(request, services.adjustment_repreview, comment=False)


class MyTermsViewSet(_ScopedViewSet):
    """An enterprise's own facilities: type, current rate, limit, effective date and the reason in plain words."""

    serializer_class = s.MyTermsSerializer

    def get_queryset(self):
        return selectors.my_terms_list(user=self.request.user).select_related("last_change")


class PdModelView(APIView):
    """The active PD model: validation figures, calibration, proxies and coefficients (lenders only)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=s.PdModelSerializer)
    def get(self, request):
        if not selectors.may_see_pd_model(request.user):
            raise PermissionDenied
        model = selectors.pd_model_current()
        if model is None:
            raise NotFound("No PD model has been trained yet.")
        return Response(s.PdModelSerializer(model).data)


class LenderPolicyView(APIView):
    """The caller's lender's credit policy; loan officers change it (PATCH), auditors read it."""

    permission_classes = [permissions.IsAuthenticated]

    def _policy(self, request):
        policy = selectors.policy_get(user=request.user)
        if policy is None:
            user = request.user
            if user.role != "loan_officer" or user.organization is None or user.organization.kind != "lender":
                raise NotFound
            policy = services.lender_policy_for(user.organization)
        return policy

    @extend_schema(responses=s.LenderPolicySerializer)
    def get(self, request):
        return Response(s.LenderPolicySerializer(self._policy(request)).data)

    @extend_schema(request=s.LenderPolicySerializer, responses=s.LenderPolicySerializer)
    def patch(self, request):
        policy = self._policy(request)
        data = s.LenderPolicySerializer(policy, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        policy = services.lender_policy_update(actor=request.user, policy=policy, **data.validated_data)
        return Response(s.LenderPolicySerializer(policy).data)
