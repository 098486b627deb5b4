"""Admins onboard organisations and users; invitations; keys; language and password."""
from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts import keys, services
from accounts.models import Invitation, Organization, User
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_admin_creates_an_enterprise_with_keys_and_queue(login_as, world):
    client = login_as(world.admin)
    response = client.post(reverse("accounts:organization_create"), {"name": "Nanjing Forming Co", "kind": "enterprise"})
    org = Organization.objects.get(name="Nanjing Forming Co")
    assert response.url == reverse("accounts:organization_detail", args=[org.pk])
    assert org.slug == "nanjing-forming-co" and org.queue_name == "participant.nanjing-forming-co"
    key = org.participant_keys.get()
    public = serialization.load_pem_public_key(key.signing_public_pem.encode())
    assert type(public).__name__ == "Ed25519PublicKey"
    # The private halves are stored encrypted, bound to the organisation and version.
    raw = keys.unwrap_private_key(key.signing_private_encrypted, org_slug=org.slug, version=1, purpose="ed25519")
    assert len(raw) == 32 and raw not in bytes(key.signing_private_encrypted)
    with pytest.raises(Exception):
        keys.unwrap_private_key(key.signing_private_encrypted, org_slug="other", version=1, purpose="ed25519")
    page = client.get(reverse("accounts:organization_detail", args=[org.pk])).content.decode()
    assert "Ed25519" in page and key.fingerprint[:20] in page
    actions = set(AuditEvent.objects.filter(organization=org).values_list("action", flat=True))
    assert {"organization.create", "participant_key.issue"} <= actions


@pytest.mark.parametrize("kind", ["lender", "audit_firm", "operator"])
def test_every_kind_of_organisation_gets_a_key_pair(world, kind):
    org = services.organization_create(actor=world.admin, name=f"New {kind}", kind=kind)
    key = org.participant_keys.get()
    assert key.revoked_at is None and key.signing_public_pem.startswith("-----BEGIN PUBLIC KEY")
    assert type(serialization.load_pem_public_key(key.encryption_public_pem.encode())).__name__ == "X25519PublicKey"


def test_duplicate_or_blank_organisation_changes_nothing(world):
    before = Organization.objects.count(), AuditEvent.objects.count()
    for bad in ({"name": "Enterprise A", "kind": "enterprise"}, {"name": "  ", "kind": "lender"},
                {"name": "X", "kind": "bank"}):
        with pytest.raises(ValidationError):
            services.organization_create(actor=world.admin, **bad)
    assert (Organization.objects.count(), AuditEvent.objects.count()) == before


def test_only_admins_onboard(world):
    with pytest.raises(PermissionDenied):
        services.organization_create(actor=world.ent_a_manager, name="Sneaky", kind="lender")
    with pytest.raises(PermissionDenied):
        services.invitation_create(actor=world.lender_a_officer, organization=world.lender_a,
                                   email="a@example.com", role="loan_officer")


def test_invitation_flow_and_its_misuse(client, world):
    invitation, token = services.invitation_create(actor=world.admin, organization=world.lender_a,
                                                   email="New.Officer@example.com", role="loan_officer")
    url = reverse("accounts:invitation_accept", args=[token])
    assert "Lender A" in client.get(url).content.decode()
    form = {"username": "new_officer", "password": "a-long-password-77", "password_again": "a-long-password-77"}
    assert client.post(url, form).status_code == 302
    user = User.objects.get(username="new_officer")
    assert (user.organization, user.role, user.email) == (world.lender_a, "loan_officer", "new.officer@example.com")
    assert user.requires_second_factor
    # Used twice: refused, nothing created.
    again = client.post(url, dict(form, username="second"))
    assert again.status_code == 410 and "already been used" in again.content.decode()
    assert not User.objects.filter(username="second").exists()
    # Expired.
    expired, expired_token = services.invitation_create(actor=world.admin, organization=world.ent_a,
                                                        email="late@example.com", role="enterprise_manager")
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(reverse("accounts:invitation_accept", args=[expired_token]))
    assert response.status_code == 410 and "expired" in response.content.decode()
    # Unknown token.
    assert client.get(reverse("accounts:invitation_accept", args=["forged"])).status_code == 410


def test_invitation_role_must_fit_the_organisation(world):
    with pytest.raises(ValidationError) as error:
        services.invitation_create(actor=world.admin, organization=world.ent_a, email="x@example.com",
                                   role="loan_officer")
    assert "role" in error.value.message_dict
    assert not Invitation.objects.exists()


def test_weak_password_on_invitation_is_refused(client, world):
    _invitation, token = services.invitation_create(actor=world.admin, organization=world.ent_a,
                                                    email="w@example.com", role="enterprise_manager")
    url = reverse("accounts:invitation_accept", args=[token])
    response = client.post(url, {"username": "weak", "password": "123", "password_again": "123"})
    assert response.status_code == 200 and not User.objects.filter(username="weak").exists()
    assert "too short" in response.content.decode()


def test_admin_suspends_and_reactivates_through_the_pages(login_as, world):
    client = login_as(world.admin)
    url = reverse("accounts:organization_status", args=[world.ent_b.pk, "suspended"])
    client.post(url, {"reason": ""})  # a reason is required
    world.ent_b.refresh_from_db()
    assert world.ent_b.status == "active"
    client.post(url, {"reason": "overdue contract"})
    world.ent_b.refresh_from_db()
    assert world.ent_b.status == "suspended"
    client.post(reverse("accounts:organization_status", args=[world.ent_b.pk, "active"]))
    world.ent_b.refresh_from_db()
    assert world.ent_b.status == "active"
    client.post(reverse("accounts:user_status", args=[world.ent_a_auditor.pk, "suspend"]), {"reason": "on leave"})
    world.ent_a_auditor.refresh_from_db()
    assert not world.ent_a_auditor.is_active


def test_admin_changes_a_role_from_the_organisation_page_and_it_is_audited(login_as, world):
    from accounts.permissions import org_group_name

    target = world.lender_a_officer2
    client = login_as(world.admin)
    page = client.get(reverse("accounts:organization_detail", args=[world.lender_a.pk])).content.decode()
    assert reverse("accounts:user_role", args=[target.pk]) in page and "Change role" in page
    events = AuditEvent.objects.count()
    # A role of another organisation kind is refused and changes nothing.
    response = client.post(reverse("accounts:user_role", args=[target.pk]), {"role": "enterprise_manager"}, follow=True)
    assert "does not fit the organisation" in response.content.decode()
    target.refresh_from_db()
    assert target.role == "loan_officer" and AuditEvent.objects.count() == events

    client.post(reverse("accounts:user_role", args=[target.pk]), {"role": "auditor"})
    target.refresh_from_db()
    assert target.role == "auditor"
    groups = set(target.groups.values_list("name", flat=True))
    assert org_group_name(world.lender_a.pk, "auditor") in groups
    assert org_group_name(world.lender_a.pk, "loan_officer") not in groups
    event = AuditEvent.objects.get(action="user.role_change")
    assert event.payload["from"] == "loan_officer" and event.payload["to"] == "auditor" and event.actor_user == "admin"
    assert event.before_digest != event.after_digest
    with pytest.raises(ValidationError):
        services.user_set_role(actor=world.admin, user=world.admin, role="admin")
    with pytest.raises(PermissionDenied):
        services.user_set_role(actor=world.lender_a_officer, user=target, role="loan_officer")


def test_django_admin_is_read_only():
    from django.contrib import admin

    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in {"accounts", "audit", "devices", "health", "federation", "lending"}:
            assert not model_admin.has_change_permission(None) and not model_admin.has_delete_permission(None), model
            assert not model_admin.has_add_permission(None), model


def test_key_rotation_revokes_the_previous_pair(world):
    first = world.lender_a.participant_keys.get()
    second = services.participant_key_issue(actor=world.admin, organization=world.lender_a)
    first.refresh_from_db()
    assert second.version == 2 and first.revoked_at is not None and second.revoked_at is None


def test_user_changes_language_and_password(login_as, world):
    client = login_as(world.ent_a_manager)
    response = client.post(reverse("accounts:profile"), {"form": "language", "language": "zh-hans"})
    assert response.cookies["django_language"].value == "zh-hans"
    world.ent_a_manager.refresh_from_db()
    assert world.ent_a_manager.language == "zh-hans"
    bad = client.post(reverse("accounts:profile"), {"form": "password", "old_password": "wrong",
                                                    "new_password": "brand-new-pass-9", "new_password_again": "brand-new-pass-9"})
    assert "当前密码不正确" in bad.content.decode()  # the user now reads Chinese
    client.post(reverse("accounts:profile"), {"form": "password", "old_password": "correct-horse-battery-42",
                                              "new_password": "brand-new-pass-9", "new_password_again": "brand-new-pass-9"})
    world.ent_a_manager.refresh_from_db()
    assert world.ent_a_manager.check_password("brand-new-pass-9")
    assert AuditEvent.objects.filter(action="user.password_change").count() == 1


def test_navigation_shows_only_the_role_s_items(login_as, world):
    admin_page = login_as(world.admin).get(reverse("home")).content.decode()
    assert "Onboarding" in admin_page and "Audit log" in admin_page
    manager_page = login_as(world.ent_a_manager).get(reverse("home")).content.decode()
    assert "Onboarding" not in manager_page and "Audit log" not in manager_page


def test_lists_never_leak_other_organisations(world):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(world.ent_a_manager)
    orgs = {o["slug"] for o in api.get("/api/v1/organizations/").json()["results"]}
    assert orgs == {"ent-a"}
    users = {u["username"] for u in api.get("/api/v1/users/").json()["results"]}
    assert users == {"ent_a_manager", "ent_a_auditor"}
    api.force_authenticate(world.admin)
    assert api.get("/api/v1/organizations/").json()["count"] == 6


def test_api_onboarding(world):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(world.admin)
    created = api.post("/api/v1/organizations/", {"name": "Delta Leasing", "kind": "lender"}, format="json")
    assert created.status_code == 201
    org_id = created.json()["id"]
    invite = api.post(f"/api/v1/organizations/{org_id}/invite/", {"email": "d@example.com", "role": "loan_officer"},
                      format="json")
    assert invite.status_code == 201 and invite.json()["token"]
    accepted = APIClient().post("/api/v1/invitations/accept/", {"token": invite.json()["token"], "username": "delta1",
                                                                 "password": "delta-password-55"}, format="json")
    assert accepted.status_code == 201
    reused = APIClient().post("/api/v1/invitations/accept/", {"token": invite.json()["token"], "username": "delta2",
                                                               "password": "delta-password-55"}, format="json")
    assert reused.status_code == 400 and "already been used" in str(reused.json())
    bad = api.post("/api/v1/organizations/", {"name": "", "kind": "bank"}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"name", "kind"}
