"""Rotate the audit HMAC key: a new key signs new events; old keys stay so old events still verify."""
import json
import re

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.core.keyring import Keyring, KeyringError
from audit.services import keyring


class Command(BaseCommand):
    help = ("Add a new current audit HMAC key. Prints the new AUDIT_HMAC_KEYS / AUDIT_HMAC_CURRENT values to set "
            "in the environment; in the embedded shape (--write-local) it also updates var/secrets.json.")

    def add_arguments(self, parser):
        parser.add_argument("--key-id", help="id of the new key (default: the next kN)")
        parser.add_argument("--write-local", action="store_true", help="update var/secrets.json (embedded shape)")

    def handle(self, *args, key_id=None, write_local=False, **options):
        current = keyring()
        if key_id is None:
            numbers = [int(m.group(1)) for k in current.key_ids if (m := re.fullmatch(r"k(\d+)", k))]
            key_id = f"k{max(numbers, default=0) + 1}"
        try:
            rotated = current.with_new_key(key_id)
        except KeyringError as exc:
            raise CommandError(str(exc)) from exc
        values = rotated.to_env()
        if write_local:
            path = settings.VAR_DIR / "secrets.json"
            if not path.exists():
                raise CommandError(f"{path} does not exist: --write-local is for the embedded shape only")
            stored = json.loads(path.read_text())
            stored.update(values)
            path.write_text(json.dumps(stored, indent=2))
            self.stdout.write(self.style.SUCCESS(f"{path} updated; restart the portal and workers."))
        Keyring.parse(values["AUDIT_HMAC_KEYS"], values["AUDIT_HMAC_CURRENT"])  # sanity check
        self.stdout.write(f"AUDIT_HMAC_CURRENT={values['AUDIT_HMAC_CURRENT']}")
        self.stdout.write(f"AUDIT_HMAC_KEYS={values['AUDIT_HMAC_KEYS']}")
