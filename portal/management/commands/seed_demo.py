from django.core.management.base import BaseCommand

from portal.demo import seed_all


class Command(BaseCommand):
    help = "Load the demo organisations, users and data (idempotent)."

    def handle(self, *args, **options):
        context = seed_all()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {len(context.organizations)} organisations, "
                                             f"{len(context.users)} users."))
        for note in context.notes:
            self.stdout.write(f"  {note}")
