"""The demo auditor reads ent1's and bank1's logs (granted by their own staff, audited), not ent2's or bank2's;
seeding twice grants nothing twice."""
import pytest

from accounts import demo as accounts_demo
from audit.models import AuditEvent
from portal.demo import DemoContext

pytestmark = pytest.mark.django_db


def test_the_demo_auditor_reads_the_logs_of_ent1_and_bank1_only():
    context = DemoContext()
    accounts_demo.seed(context)
    accounts_demo.seed(context)
    auditor, orgs = context.users["auditor"], context.organizations
    assert auditor.has_perm("accounts.audit_organization", orgs["ent1"])
    assert auditor.has_perm("accounts.audit_organization", orgs["bank1"])
    assert not auditor.has_perm("accounts.audit_organization", orgs["ent2"])
    assert not auditor.has_perm("accounts.audit_organization", orgs["bank2"])
    grants = AuditEvent.objects.filter(action="audit.access_grant")
    assert sorted(grants.values_list("organization__slug", flat=True)) == sorted([orgs["ent1"].slug, orgs["bank1"].slug])
    assert any(note.startswith("Audit: auditor") for note in context.notes)
