"""The intake of events recorded while another transaction held the audit chain (PostgreSQL): rows are
never updated, and deleted only once their event is in the chain with the same id and content."""
import django.db.models.deletion
from django.db import migrations, models


# Every intake column but the content MAC is copied into the chained event unchanged.
_CONTENT = ("occurred_at", "actor_user", "actor_org", "actor_kind", "action", "object_type", "object_id",
            "before_digest", "after_digest", "payload", "key_id", "organization_id")

FORWARD = f"""
CREATE OR REPLACE FUNCTION audit_intake_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('presstrust.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM audit_auditevent AS e WHERE e.id = OLD.id
           AND ({", ".join("e." + c for c in _CONTENT)}) IS NOT DISTINCT FROM ({", ".join("OLD." + c for c in _CONTENT)})
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_auditintake: %% refused (rows leave only as sealed events)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_intake_guard_rows BEFORE UPDATE OR DELETE ON audit_auditintake
    FOR EACH ROW EXECUTE FUNCTION audit_intake_guard();
CREATE TRIGGER audit_intake_guard_truncate BEFORE TRUNCATE ON audit_auditintake
    FOR EACH STATEMENT EXECUTE FUNCTION audit_intake_guard();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_intake_guard_rows ON audit_auditintake;
DROP TRIGGER IF EXISTS audit_intake_guard_truncate ON audit_auditintake;
DROP FUNCTION IF EXISTS audit_intake_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('audit', '0003_chain_verification'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditIntake',
            fields=[
                ('id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('occurred_at', models.DateTimeField()),
                ('actor_user', models.CharField(blank=True, max_length=150, null=True)),
                ('actor_org', models.CharField(blank=True, max_length=60, null=True)),
                ('actor_kind', models.CharField(max_length=10)),
                ('action', models.CharField(max_length=80)),
                ('object_type', models.CharField(max_length=80)),
                ('object_id', models.CharField(max_length=64)),
                ('before_digest', models.CharField(blank=True, max_length=64)),
                ('after_digest', models.CharField(blank=True, max_length=64)),
                ('payload', models.JSONField(default=dict)),
                ('key_id', models.CharField(max_length=32)),
                ('content_mac', models.CharField(max_length=64)),
                ('organization', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='accounts.organization')),
            ],
            options={
                'verbose_name': 'audit event awaiting sealing',
                'ordering': ['id'],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
