from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("health/presses", views.PressHealthViewSet, basename="presshealth")
router.register("health/runs", views.HealthRunViewSet, basename="healthrun")
router.register("health/alarms", views.HealthAlarmViewSet, basename="healthalarm")
router.register("health/baselines", views.HealthBaselineViewSet, basename="healthbaseline")
router.register("health/batches", views.BatchHealthViewSet, basename="batchhealth")
urlpatterns = router.urls
