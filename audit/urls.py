from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("", views.event_list_view, name="event_list"),
    path("events/<int:sequence>/", views.event_detail_view, name="event_detail"),
    path("verify/", views.verification_create_view, name="verification_create"),
    path("verify/<int:pk>/", views.verification_status_view, name="verification_status"),
    path("export/", views.evidence_export_view, name="evidence_export"),
    path("platform-key.pem", views.platform_key_view, name="platform_key"),
    path("access/<int:pk>/<str:action>/", views.audit_access_view, name="audit_access"),
]
