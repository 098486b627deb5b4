from django.urls import path

from . import views

app_name = "lending"
urlpatterns = [
    path("", views.facility_list_view, name="facility_list"),
    path("my-terms/", views.my_terms_view, name="my_terms"),
    path("pd-model/", views.pd_model_view, name="pd_model"),
    path("policy/", views.policy_view, name="policy"),
    path("borrowers/", views.borrower_list_view, name="borrower_list"),
    path("borrowers/<int:pk>/", views.borrower_detail_view, name="borrower_detail"),
    path("borrowers/<int:pk>/statements/", views.statement_create_view, name="statement_create"),
    path("borrowers/<int:pk>/statements/upload/", views.statement_upload_view, name="statement_upload"),
    path("facilities/new/", views.facility_create_view, name="facility_create"),
    path("facilities/<int:pk>/", views.facility_detail_view, name="facility_detail"),
    path("facilities/<int:pk>/review/", views.facility_review_view, name="facility_review"),
    path("facilities/<int:pk>/proposals/new/", views.proposal_create_view, name="proposal_create"),
    path("assessments/<int:pk>/", views.assessment_detail_view, name="assessment_detail"),
    path("proposals/<int:pk>/", views.proposal_detail_view, name="proposal_detail"),
    path("proposals/<int:pk>/submit/", views.proposal_submit_view, name="proposal_submit"),
    path("proposals/<int:pk>/approve/", views.proposal_approve_view, name="proposal_approve"),
    path("proposals/<int:pk>/reject/", views.proposal_reject_view, name="proposal_reject"),
    path("proposals/<int:pk>/return/", views.proposal_return_view, name="proposal_return"),
    path("proposals/<int:pk>/withdraw/", views.proposal_withdraw_view, name="proposal_withdraw"),
    path("proposals/<int:pk>/repreview/", views.proposal_repreview_view, name="proposal_repreview"),
]
