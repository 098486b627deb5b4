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

    for index in range(count):
        with transaction.atomic():
            record(actor=None, action="test.concurrent_append", payload={"writer": writer, "index": index})


if __name__ == "__main__":
    main()
