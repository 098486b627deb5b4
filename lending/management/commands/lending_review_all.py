"""``manage.py lending_review_all``: the reviews that are due, even if the health app never asked for them."""
from django.core.management.base import BaseCommand

from lending import services


class Command(BaseCommand):
    help = ("Review every active facility whose pledged presses raised an alarm (or got a model prediction) since "
            "its last review, or whose periodic review is due; then apply scheduled adjustments whose date has "
            "come and expire stale submitted proposals.")

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="store_true", help="queue the reviews on the worker instead of "
                                                                 "running them here")
        parser.add_argument("--dry-run", action="store_true", help="only list the reviews that are due")

    def handle(self, *args, queue, dry_run, **options):
        due = services.reviews_due()
        for facility_id, trigger in due:
            self.stdout.write(f"facility {facility_id}: {trigger}")
        if dry_run:
            self.stdout.write(f"{len(due)} reviews due.")
            return
        proposals = 0
        for facility_id, trigger in due:
            if queue:
                from lending.tasks import review_facility

                review_facility.delay(facility_id, trigger)
                continue
            outcome = services.facility_review(facility_id=facility_id, trigger=trigger)
            if outcome.proposal is not None:
                proposals += 1
                self.stdout.write(f"  proposal #{outcome.proposal.pk} drafted ({outcome.proposal.reason_code})")
        housekeeping = services.lending_housekeeping()
        done = "queued" if queue else "reviewed"
        self.stdout.write(self.style.SUCCESS(
            f"{len(due)} facilities {done}, {proposals} proposals drafted; {len(housekeeping['applied'])} scheduled "
            f"adjustments applied, {len(housekeeping['expired'])} proposals expired."))
