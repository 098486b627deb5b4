"""Seal the events waiting in the chain's intake (normally done right after their transaction commits;
this is for an event whose writer process died in between)."""
from django.core.management.base import BaseCommand

from audit.services import seal_pending


class Command(BaseCommand):
    help = "Seal every audit event waiting in the intake into the chain; prints how many."

    def handle(self, *args, **options):
        sealed = seal_pending(wait=True)
        self.stdout.write(f"{sealed} event(s) sealed")
