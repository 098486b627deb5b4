from django.urls import reverse

from .registry import Case, declare, everyone, exempt

ENT_A_MEMBERS = ("ent_a_manager", "ent_a_auditor")
LENDER_A_MEMBERS = ("lender_a_officer", "lender_a_officer2", "lender_a_auditor")

declare(
    Case("organization page", "accounts:organization_detail",
         lambda w: reverse("accounts:organization_detail", args=[w.ent_a.pk]),
         expect={"admin": 200, **everyone(200, *ENT_A_MEMBERS)}),
    Case("organization API detail", "organization-detail",
         lambda w: reverse("organization-detail", args=[w.ent_a.pk]), api=True,
         expect={"admin": 200, **everyone(200, *ENT_A_MEMBERS)}),
    Case("organization API keys", "organization-keys",
         lambda w: reverse("organization-keys", args=[w.lender_a.pk]), api=True,
         expect={"admin": 200, **everyone(200, *LENDER_A_MEMBERS)}),
    Case("organization API suspend", "organization-suspend",
         lambda w: reverse("organization-suspend", args=[w.ent_a.pk]), api=True, method="post",
         data={"reason": "matrix"}, expect={"admin": 200, **everyone(403, *ENT_A_MEMBERS)}),
    Case("organization API reactivate", "organization-reactivate",
         lambda w: reverse("organization-reactivate", args=[w.ent_b.pk]), api=True, method="post",
         setup=lambda w: _suspend(w, w.ent_b),
         expect={"admin": 200, "ent_b_manager": 401}),  # members of a suspended organisation cannot authenticate
    Case("organization API invite", "organization-invite",
         lambda w: reverse("organization-invite", args=[w.ent_a.pk]), api=True, method="post",
         data={"email": "new@example.com", "role": "enterprise_manager"},
         expect={"admin": 201, **everyone(403, *ENT_A_MEMBERS)}),
    Case("organization API issue key", "organization-issue-key",
         lambda w: reverse("organization-issue-key", args=[w.lender_a.pk]), api=True, method="post",
         expect={"admin": 201, **everyone(403, *LENDER_A_MEMBERS)}),
    Case("organization suspend page action", "accounts:organization_status",
         lambda w: reverse("accounts:organization_status", args=[w.ent_a.pk, "suspended"]), method="post",
         data={"reason": "matrix"}, expect={"admin": 302, **everyone(403, *ENT_A_MEMBERS)}),
    Case("invite page action", "accounts:invitation_create",
         lambda w: reverse("accounts:invitation_create", args=[w.ent_a.pk]), method="post",
         data={"email": "x@example.com", "role": "enterprise_manager"},
         expect={"admin": 302, **everyone(403, *ENT_A_MEMBERS)}),
    Case("issue key page action", "accounts:participant_key_issue",
         lambda w: reverse("accounts:participant_key_issue", args=[w.ent_a.pk]), method="post",
         expect={"admin": 302, **everyone(403, *ENT_A_MEMBERS)}),
    Case("worker check page action", "accounts:worker_probe",
         lambda w: reverse("accounts:worker_probe", args=[w.ent_a.pk]), method="post",
         expect={"admin": 302, **everyone(403, *ENT_A_MEMBERS)}),
    Case("public key download", "accounts:participant_key_download",
         lambda w: reverse("accounts:participant_key_download",
                           args=[w.ent_a.pk, w.ent_a.participant_keys.get().pk, "signing"]),
         expect={"admin": 200, **everyone(200, *ENT_A_MEMBERS)}),
    Case("user API detail", "user-detail",
         lambda w: reverse("user-detail", args=[w.ent_a_manager.pk]), api=True,
         expect={"admin": 200, **everyone(200, *ENT_A_MEMBERS)}),
    Case("user API suspend", "user-suspend",
         lambda w: reverse("user-suspend", args=[w.ent_a_auditor.pk]), api=True, method="post",
         data={"reason": "matrix"}, expect={"admin": 200, "ent_a_manager": 403, "ent_a_auditor": 403}),
    Case("user API reactivate", "user-reactivate",
         lambda w: reverse("user-reactivate", args=[w.ent_b_manager.pk]), api=True, method="post",
         setup=lambda w: _suspend_user(w, w.ent_b_manager),
         expect={"admin": 200, "ent_b_manager": 401}),  # a suspended user cannot authenticate at all
    Case("user API role change", "user-role",
         lambda w: reverse("user-role", args=[w.lender_a_officer2.pk]), api=True, method="post",
         data={"role": "auditor"}, expect={"admin": 200, **everyone(403, *LENDER_A_MEMBERS)}),
    Case("user role page action", "accounts:user_role",
         lambda w: reverse("accounts:user_role", args=[w.ent_a_auditor.pk]), method="post",
         data={"role": "enterprise_manager"}, expect={"admin": 302, "ent_a_manager": 403, "ent_a_auditor": 403}),
    Case("user suspend page action", "accounts:user_status",
         lambda w: reverse("accounts:user_status", args=[w.ent_a_auditor.pk, "suspend"]), method="post",
         data={"reason": "matrix"}, expect={"admin": 302, "ent_a_manager": 403, "ent_a_auditor": 403}),
)

exempt("accounts:invitation_accept", "takes a one-time token, not an object id; tested in tests/accounts")


def _suspend(world, org):
    from accounts import services

    services.organization_set_status(actor=world.admin, organization=org, status="suspended", reason="setup")


def _suspend_user(world, user):
    from accounts import services

    services.user_set_active(actor=world.admin, user=user, active=False, reason="setup")
