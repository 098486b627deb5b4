from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from health.selectors import batches_pending_analysis
from health.services import batch_analysis_enqueue, batch_analyze


class Command(BaseCommand):
    help = ("Queue again the analysis of batches whose analysis never finished (e.g. the broker was down when "
            "they were uploaded); --sync analyses them here instead.")

    def add_arguments(self, parser):
        parser.add_argument("--older-than-minutes", type=float, default=10,
                            help="only batches uploaded at least this long ago (default 10)")
        parser.add_argument("--sync", action="store_true", help="analyse in this process instead of queueing")

    def handle(self, *args, older_than_minutes: float, sync: bool, **options):
        pending = batches_pending_analysis(uploaded_before=timezone.now() - timedelta(minutes=older_than_minutes))
        for batch in pending:
            if sync:
                runs = batch_analyze(batch_id=batch.pk)
                self.stdout.write(f"batch {batch.pk}: " + ", ".join(f"{r.channel_name} {r.status}" for r in runs))
            else:
                batch_analysis_enqueue(batch=batch)
                self.stdout.write(f"batch {batch.pk} queued on participant.{batch.organization.slug}")
        self.stdout.write(self.style.SUCCESS(f"{len(pending)} batch(es) {'analysed' if sync else 'queued'}."))
