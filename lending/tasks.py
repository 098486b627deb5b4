"""Credit reviews on the worker. Tasks take ids, re-read the rows and call a service; each is idempotent
(a review whose inputs did not change since the latest assessment changes nothing), so ``acks_late`` is safe.

Periodic work (``review_due_facilities``: reviews the health app did not ask for, periodic reviews, applying
scheduled adjustments, expiring stale proposals) is registered with Celery beat below and is also what
``manage.py lending_review_all`` runs.
"""
from __future__ import annotations

import logging

from celery import shared_task

from portal.celery import DEFAULT_QUEUE, app

logger = logging.getLogger(__name__)

REVIEW_DUE_EVERY_SECONDS = 3600.0


@shared_task(acks_late=True)
def review_facility(facility_id: int, trigger: str) -> None:
    """Assess a facility and draft an adjustment proposal when its terms moved beyond tolerance."""
    from .models import Facility
    from .services import facility_review

    if not Facility.objects.filter(pk=facility_id).exists():
        logger.warning("review of facility %s skipped: it no longer exists", facility_id)
        return
    outcome = facility_review(facility_id=facility_id, trigger=trigger)
    logger.info("facility %s reviewed (%s): assessment %s, proposal %s %s", facility_id, trigger,
                outcome.assessment.pk if outcome.assessment else None,
                outcome.proposal.pk if outcome.proposal else None, outcome.skipped)


@shared_task(acks_late=True)
def review_due_facilities() -> dict:
    """Queue the reviews that are due, then apply scheduled adjustments and expire stale proposals."""
    from .services import lending_housekeeping, reviews_due

    due = reviews_due()
    for facility_id, trigger in due:
        review_facility.delay(facility_id, trigger)
    result = lending_housekeeping()
    return {"queued": len(due), **result}


# Celery beat runs the due reviews; the schedule lives with the task it schedules.
app.conf.beat_schedule = {
    **(app.conf.beat_schedule or {}),
    "lending-review-due-facilities": {"task": "lending.tasks.review_due_facilities",
                                      "schedule": REVIEW_DUE_EVERY_SECONDS, "options": {"queue": DEFAULT_QUEUE}},
}
