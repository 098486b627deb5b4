from django.core.management.base import BaseCommand

from federation.services import tasks_resume


class Command(BaseCommand):
    help = ("Re-enqueue the current step of every running federated task (after a worker crash or a restart): "
            "collecting steps are re-sent to the participants that have not answered, aggregating steps are "
            "aggregated, missing evaluations are asked for again. Safe to repeat: every step is idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("--task", type=int, help="only this task")

    def handle(self, *args, **options):
        actions = tasks_resume(task_id=options.get("task"))
        for action in actions:
            self.stdout.write(f"  {action}")
        self.stdout.write(self.style.SUCCESS(f"{len(actions)} messages re-enqueued."))
