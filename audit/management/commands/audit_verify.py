from django.core.management.base import BaseCommand

from audit.services import keyring
from audit.verification import verify_stored_chain


class Command(BaseCommand):
    help = "Verify the whole audit chain; exits 1 and names the first broken event if it is broken."

    def handle(self, *args, **options):
        result = verify_stored_chain(keyring())
        if result.ok:
            waiting = f"; {result.unsealed} recorded moments ago wait in the intake" if result.unsealed else ""
            self.stdout.write(self.style.SUCCESS(f"{result.count} events, chain intact{waiting}"))
            return
        where = f"event {result.sequence}" if result.sequence is not None else "an event waiting in the intake"
        self.stderr.write(self.style.ERROR(f"chain broken at {where} ({result.reason}): {result.message}"))
        raise SystemExit(1)
