from rest_framework.routers import DefaultRouter

from .views import AuditEventViewSet, ChainVerificationViewSet

router = DefaultRouter()
router.register("events", AuditEventViewSet, basename="auditevent")
router.register("verifications", ChainVerificationViewSet, basename="chainverification")
urlpatterns = router.urls
