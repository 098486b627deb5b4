"""``manage.py lending_train_pd_model [--data german.data] [--export FILE]``: train and store the PD scorecard."""
import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from lending import pd_model, services


class Command(BaseCommand):
    help = ("Train the PD scorecard on the German credit data (default: ../shared/data/credit/german.data), "
            "validate it on a held-out split and store it as the active PD model.")

    def add_arguments(self, parser):
        parser.add_argument("--data", default=None, help="path of german.data")
        parser.add_argument("--export", default=None,
                            help="write the trained model document to this JSON file instead of storing it "
                                 "(how lending/data/pd_model_fallback.json is made)")

    def handle(self, *args, data, export, **options):
        path = data or services.german_credit_path()
        if export:
            try:
                document = pd_model.train_pd_model(path)
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot train on {path}: {exc}", returncode=2) from exc
            with open(export, "w") as handle:
                json.dump(document, handle, indent=1, sort_keys=True)
                handle.write("\n")
            self.stdout.write(f"Model document written to {export} (held-out AUC {document['validation']['auc']:.3f}).")
            return
        try:
            model = services.pd_model_train(data_path=data)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages), returncode=2) from exc
        except ValueError as exc:
            raise CommandError(f"cannot train on {path}: {exc}", returncode=2) from exc
        validation = model.validation
        self.stdout.write(self.style.SUCCESS(
            f"PD model v{model.version} stored: held-out AUC {validation['auc']:.3f}, Gini {validation['gini']:.3f}, "
            f"KS {validation['ks']:.3f} ({validation['test_size']} applicants held out); "
            f"mean AUC over other splits {validation['auc_other_splits_mean']:.3f}."))
