from datetime import timedelta

from django.core.management.base import BaseCommand

from devices.services import orphan_files_sweep


class Command(BaseCommand):
    help = "Find and remove stored batch files with no database row (left by a crash mid-upload)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="list them, remove nothing")
        parser.add_argument("--older-than-minutes", type=int, default=60,
                            help="leave files younger than this alone (an upload may still be committing)")

    def handle(self, *args, dry_run: bool, older_than_minutes: int, **options):
        found = orphan_files_sweep(dry_run=dry_run, older_than=timedelta(minutes=older_than_minutes))
        for path in found:
            self.stdout.write(path)
        verb = "found" if dry_run else "removed"
        self.stdout.write(self.style.SUCCESS(f"{len(found)} orphan file(s) {verb}."))
