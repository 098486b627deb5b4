from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("presses", views.PressViewSet, basename="press")
router.register("batches", views.SensorBatchViewSet, basename="sensorbatch")
router.register("health-shares", views.HealthShareViewSet, basename="healthshare")
urlpatterns = router.urls
