"""A separate process that appends audit events (``python -m tests.audit.append_worker WRITER COUNT``).

Used by the concurrency test: several of these run at once against the test database.
"""
import os
import sys

import django


def main() -> None:
    writer, count = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    django.setup()
    from django.db import transaction

    from audit.services import record

    via_intake = 0
    for index in range(count):
        with transaction.atomic():
            event = record(actor=None, action="test.concurrent_append", payload={"writer": writer, "index": index})
        via_intake += event.sequence is None  # the chain was held by another writer: sealed after the commit
    print(f"{writer}: {count} events, {via_intake} through the intake")


if __name__ == "__main__":
    main()
