from django.urls import reverse

from .registry import Case, declare


def _ent_a_event(world):
    from audit.models import AuditEvent

    return AuditEvent.objects.filter(organization=world.ent_a).order_by("sequence").first().sequence


AUDIT_A = {"admin": 200, "ent_a_auditor": 200}

declare(
    Case("audit event page", "audit:event_detail", lambda w: reverse("audit:event_detail", args=[_ent_a_event(w)]),
         expect=AUDIT_A),
    Case("audit event API", "auditevent-detail", lambda w: reverse("auditevent-detail", args=[_ent_a_event(w)]),
         api=True, expect=AUDIT_A),
)


def _verification_of_firm_auditor(world):
    from audit.models import ChainVerification

    return ChainVerification.objects.create(requested_by=world.firm_auditor).pk


declare(
    # A verification run belongs to the auditor who asked for it; nobody else learns of it.
    Case("verification status page", "audit:verification_status",
         lambda w: reverse("audit:verification_status", args=[_verification_of_firm_auditor(w)]),
         expect={"firm_auditor": 200}),
    Case("verification API", "chainverification-detail",
         lambda w: reverse("chainverification-detail", args=[_verification_of_firm_auditor(w)]), api=True,
         expect={"firm_auditor": 200}),
    # Granting audit access to ent_a's log: its manager and the platform admin may; its auditor sees the
    # organisation but may not hand its log to a firm; everyone else does not see ent_a at all.
    Case("grant audit access", "audit:audit_access",
         lambda w: reverse("audit:audit_access", args=[w.ent_a.pk, "grant"]), method="post",
         data=lambda w: {"audit_firm": w.firm.pk},
         expect={"admin": 302, "ent_a_manager": 302, "ent_a_auditor": 403}),
)
