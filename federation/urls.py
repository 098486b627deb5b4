from django.urls import path

from . import tabular_views, views

app_name = "federation"
urlpatterns = [
    path("", views.task_list_view, name="task_list"),
    path("tasks/new/", views.task_create_view, name="task_create"),
    path("tasks/<int:pk>/", views.task_detail_view, name="task_detail"),
    path("tasks/<int:pk>/cancel/", views.task_cancel_view, name="task_cancel"),
    path("tasks/<int:pk>/start/", views.task_start_view, name="task_start"),
    path("tasks/<int:pk>/participants/<int:participant_id>/remove/", views.participant_remove_view,
         name="participant_remove"),
    path("grants/<int:pk>/", views.grant_detail_view, name="grant_detail"),
    path("grants/<int:pk>/accept/", views.grant_accept_view, name="grant_accept"),
    path("grants/<int:pk>/decline/", views.grant_decline_view, name="grant_decline"),
    path("grants/<int:pk>/revoke/", views.grant_revoke_view, name="grant_revoke"),
    path("models/", views.model_list_view, name="model_list"),
    path("models/<int:pk>/", views.model_detail_view, name="model_detail"),
    path("models/<int:pk>/activate/", views.model_activate_view, name="model_activate"),
    path("presses/<int:pk>/predictions/", views.press_predictions_view, name="press_predictions"),
    path("presses/<int:pk>/rescore/", views.press_rescore_view, name="press_rescore"),
    path("labels/", views.label_list_view, name="label_list"),
    path("batches/<int:pk>/label/", views.batch_label_view, name="batch_label"),
    # Tabular tasks: loan books of lenders, production records of enterprises.
    path("tabular/", tabular_views.tabular_home_view, name="tabular_home"),
    path("tabular/upload/", tabular_views.dataset_upload_view, name="dataset_upload"),
    path("tabular/datasets/<int:pk>/", tabular_views.dataset_detail_view, name="dataset_detail"),
    path("tabular/datasets/<int:pk>/delete/", tabular_views.dataset_delete_view, name="dataset_delete"),
    path("tabular/tasks/new/", tabular_views.tabular_task_create_view, name="tabular_task_create"),
    path("tabular/tasks/<int:pk>/results/", tabular_views.tabular_results_view, name="tabular_results"),
    path("tabular/models/<int:pk>/adopt/", tabular_views.pd_adopt_view, name="pd_adopt"),
]
