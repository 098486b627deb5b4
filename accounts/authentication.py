from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


class ActiveTokenAuthentication(TokenAuthentication):
    """Token authentication that also refuses members of a suspended organisation."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if user.organization_id is not None and not user.organization.is_active:
            raise exceptions.AuthenticationFailed(_("Your organisation is suspended."))
        return user, token
