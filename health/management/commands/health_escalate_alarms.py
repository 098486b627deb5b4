from datetime import timedelta

from django.core.management.base import BaseCommand

from health.services import alarms_escalate


class Command(BaseCommand):
    help = "Escalate health alarms left unacknowledged longer than HEALTH_ALARM_ESCALATE_AFTER_HOURS (audited)."

    def add_arguments(self, parser):
        parser.add_argument("--after-hours", type=float, default=None,
                            help="escalate alarms unacknowledged for longer than this (default: the setting)")

    def handle(self, *args, after_hours=None, **options):
        after = timedelta(hours=after_hours) if after_hours is not None else None
        escalated = alarms_escalate(after=after)
        for alarm in escalated:
            self.stdout.write(f"escalated alarm {alarm.pk} ({alarm.press.name}, {alarm.channel_name})")
        self.stdout.write(self.style.SUCCESS(f"{len(escalated)} alarm(s) escalated."))
