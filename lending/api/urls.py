from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("borrowers", views.BorrowerViewSet, basename="borrower")
router.register("financial-statements", views.FinancialStatementViewSet, basename="financialstatement")
router.register("facilities", views.FacilityViewSet, basename="facility")
router.register("risk-assessments", views.RiskAssessmentViewSet, basename="riskassessment")
router.register("adjustments", views.AdjustmentViewSet, basename="adjustment")
router.register("my-terms", views.MyTermsViewSet, basename="myterms")
urlpatterns = [
    path("pd-model/", views.PdModelView.as_view(), name="pd-model"),
    path("lending-policy/", views.LenderPolicyView.as_view(), name="lending-policy"),
    *router.urls,
]
