from django.core.management.base import BaseCommand

from federation.services import stragglers_check


class Command(BaseCommand):
    help = ("Warn participants past a step's warning time, drop them for the step past its deadline, and stop "
            "participants whose data-use grant expired. Run it periodically (e.g. every minute from cron); each "
            "step also schedules these checks itself on the default queue.")

    def add_arguments(self, parser):
        parser.add_argument("--task", type=int, help="only this task")

    def handle(self, *args, **options):
        counts = stragglers_check(task_id=options.get("task"))
        self.stdout.write(self.style.SUCCESS(
            "warned {warned}, dropped {dropped}, grants expired {expired}".format(**counts)))
