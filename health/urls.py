from django.urls import path

from . import views

app_name = "health"
urlpatterns = [
    path("", views.fleet_view, name="fleet"),
    path("plotly.min.js", views.plotly_js_view, name="plotly_js"),
    path("presses/<int:pk>/", views.press_health_view, name="press"),
    path("runs/<int:pk>/", views.run_detail_view, name="run_detail"),
    path("alarms/<int:pk>/", views.alarm_detail_view, name="alarm_detail"),
    path("alarms/<int:pk>/acknowledge/", views.alarm_acknowledge_view, name="alarm_acknowledge"),
    path("alarms/<int:pk>/resolve/", views.alarm_resolve_view, name="alarm_resolve"),
    path("baselines/<int:pk>/reset/", views.baseline_reset_view, name="baseline_reset"),
    path("baselines/<int:pk>/thresholds/", views.thresholds_override_view, name="thresholds_override"),
    path("batches/<int:pk>/mark-healthy/", views.batch_mark_healthy_view, name="batch_mark_healthy"),
]
