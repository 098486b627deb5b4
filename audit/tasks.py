from celery import shared_task
from django.db import transaction
from django.utils import timezone

from .models import ChainVerification


@shared_task(acks_late=True)
def run_chain_verification(verification_id: int) -> None:
    """Verify the whole chain for one request; re-running a finished request changes nothing."""
    from . import services
    from .verification import verify_stored_chain

    verification = ChainVerification.objects.filter(pk=verification_id).first()
    if verification is None or verification.status in (ChainVerification.Status.INTACT, ChainVerification.Status.BROKEN):
        return
    from .models import AuditEvent

    services.seal_pending(wait=True)  # events whose writer died between their commit and their sealing
    total = AuditEvent.objects.count()
    ChainVerification.objects.filter(pk=verification_id).update(status=ChainVerification.Status.RUNNING, total=total,
                                                                checked=0)
    step = max(1, total // 50)
    state = {"next": step}

    def progress(last_sequence: int) -> None:
        if last_sequence >= state["next"]:
            ChainVerification.objects.filter(pk=verification_id).update(checked=last_sequence)
            state["next"] = last_sequence + step

    result = verify_stored_chain(services.keyring(), on_progress=progress)
    with transaction.atomic():
        services.chain_verification_finish(verification_id=verification_id, result=result, finished_at=timezone.now())
