from django.urls import path

from . import views

app_name = "devices"
urlpatterns = [
    path("", views.press_list_view, name="press_list"),
    path("new/", views.press_create_view, name="press_create"),
    path("<int:pk>/", views.press_detail_view, name="press_detail"),
    path("<int:pk>/edit/", views.press_edit_view, name="press_edit"),
    path("<int:pk>/retire/", views.press_retire_view, name="press_retire"),
    path("<int:pk>/upload/", views.batch_upload_view, name="batch_upload"),
    path("<int:pk>/shares/", views.health_share_create_view, name="health_share_create"),
    path("<int:pk>/shares/<int:share_id>/revoke/", views.health_share_revoke_view, name="health_share_revoke"),
    path("batches/<int:pk>/", views.batch_detail_view, name="batch_detail"),
    path("batches/<int:pk>/samples.npz", views.batch_download_view, name="batch_download"),
]
