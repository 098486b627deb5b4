"""``manage.py abs_simulate --pool POOL.csv --structure STRUCTURE.json``: the portal's ABS engine, from files."""
import json

from django.core.management.base import BaseCommand, CommandError

from lending.core.abs.cli import format_report, run_from_files
from lending.core.abs.errors import PoolError, StructureError


class Command(BaseCommand):
    help = ("Simulate an asset pool's losses (one-factor Gaussian copula) and run them through the tranche "
            "waterfall. File formats: see lending/core/abs/cli.py.")

    def add_arguments(self, parser):
        parser.add_argument("--pool", required=True, help="POOL.csv: id, balance, pd (or pd_annual), lgd, "
                                                          "maturity_months[, sector, rate]")
        parser.add_argument("--structure", required=True, help="STRUCTURE.json: tranches, waterfall, horizon ...")
        parser.add_argument("--scenarios", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--correlation", type=float, default=None, help="override every asset correlation")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, pool, structure, scenarios, seed, correlation, **options):
        if scenarios <= 0:
            raise CommandError("--scenarios must be a positive whole number", returncode=2)
        if correlation is not None and not (0.0 <= correlation < 1.0):
            raise CommandError("--correlation must be in [0, 1)", returncode=2)
        try:
            result = run_from_files(pool, structure, scenarios=scenarios, seed=seed, correlation=correlation)
        except (PoolError, StructureError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise CommandError(f"cannot read the input: {exc}", returncode=2) from exc
        if options["json"]:
            self.stdout.write(_dumps(result))
        else:
            self.stdout.write(format_report(result))


def _dumps(result: dict) -> str:
    return json.dumps(result, default=float)
