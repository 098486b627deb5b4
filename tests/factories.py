"""factory-boy factories that go through the services, so groups, grants and audit events are real."""
from __future__ import annotations

import factory
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.models import Organization, User

TEST_PASSWORD = "correct-horse-battery-42"


class OrganizationFactory(factory.Factory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    kind = "enterprise"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.organization_create(actor=None, **kwargs)


class UserFactory(factory.Factory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    organization = factory.LazyFunction(lambda: OrganizationFactory())
    role = "enterprise_manager"
    password = TEST_PASSWORD
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        user = services.user_create(actor=None, **kwargs)
        if user.requires_second_factor:
            TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        return user


def totp_now(user) -> str:
    """The current code of the user's authenticator, as the phone app would show it."""
    from django_otp.oath import TOTP

    device = TOTPDevice.objects.get(user=user, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def verified_login(client, user) -> None:
    """Sign ``client`` in as ``user`` and, for privileged roles, mark the session as past TOTP."""
    client.force_login(user)
    if user.requires_second_factor:
        device = TOTPDevice.objects.get(user=user, confirmed=True)
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
