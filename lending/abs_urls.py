"""ABS pages, mounted at /lending/abs/ (namespace ``abs``)."""
from django.urls import path

from . import abs_views as views

app_name = "abs"
urlpatterns = [
    path("", views.pool_list_view, name="pool_list"),
    path("pools/new/", views.pool_create_view, name="pool_create"),
    path("pools/<int:pk>/", views.pool_detail_view, name="pool_detail"),
    path("pools/<int:pk>/revise/", views.pool_revise_view, name="pool_revise"),
    path("pools/<int:pk>/structures/new/", views.structure_create_view, name="structure_create"),
    path("pools/<int:pk>/structures/size/", views.structure_size_view, name="structure_size"),
    path("structures/<int:pk>/", views.structure_detail_view, name="structure_detail"),
    path("structures/<int:pk>/revise/", views.structure_revise_view, name="structure_revise"),
    path("structures/<int:pk>/runs/", views.run_create_view, name="run_create"),
    path("runs/<int:pk>/", views.run_detail_view, name="run_detail"),
    path("runs/<int:pk>/status/", views.run_status_view, name="run_status"),
    path("runs/<int:pk>/rerun/", views.run_rerun_view, name="run_rerun"),
    path("runs/<int:pk>/what-if/", views.run_what_if_view, name="run_what_if"),
]
