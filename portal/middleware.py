"""Request id for log lines and audit events."""
from __future__ import annotations

import uuid

from django.utils.deprecation import MiddlewareMixin

from audit.services import set_request_id


class RequestIdMiddleware(MiddlewareMixin):
    header = "HTTP_X_REQUEST_ID"

    def process_request(self, request):
        incoming = request.META.get(self.header, "")
        request.request_id = incoming[:64] if incoming else uuid.uuid4().hex
        set_request_id(request.request_id)

    def process_response(self, request, response):
        set_request_id(None)
        request_id = getattr(request, "request_id", None)
        if request_id:
            response["X-Request-ID"] = request_id
        return response
