from django.core.management.base import BaseCommand

from audit.services import keyring
from audit.verification import verify_stored_chain


class Command(BaseCommand):
    help = "Verify the whole audit chain; exits 1 and names the first broken event if it is broken."

    def handle(self, *args, **options):
        result = verify_stored_chain(keyring())
        if result.ok:
            self.stdout.write(self.style.SUCCESS(f"{result.count} events, chain intact"))
            return
        self.stderr.write(self.style.ERROR(f"chain broken at event {result.sequence} ({result.reason}): {result.message}"))
        raise SystemExit(1)
