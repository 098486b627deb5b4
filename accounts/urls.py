from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/verify/", views.otp_verify_view, name="otp_verify"),
    path("login/enrol/", views.otp_enrol_view, name="otp_enrol"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile_view, name="profile"),
    path("invite/<str:token>/", views.invitation_accept_view, name="invitation_accept"),
    path("organisations/", views.organization_list_view, name="organization_list"),
    path("organisations/new/", views.organization_create_view, name="organization_create"),
    path("organisations/<int:pk>/", views.organization_detail_view, name="organization_detail"),
    path("organisations/<int:pk>/status/<str:status>/", views.organization_status_view, name="organization_status"),
    path("organisations/<int:pk>/invitations/", views.invitation_create_view, name="invitation_create"),
    path("organisations/<int:pk>/keys/issue/", views.participant_key_issue_view, name="participant_key_issue"),
    path("organisations/<int:pk>/keys/<int:key_id>/<str:half>.pem", views.participant_key_download_view,
         name="participant_key_download"),
    path("organisations/<int:pk>/worker-check/", views.worker_probe_view, name="worker_probe"),
    path("users/<int:pk>/role/", views.user_role_view, name="user_role"),
    path("users/<int:pk>/<str:active>/", views.user_status_view, name="user_status"),
]
