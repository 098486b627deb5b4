import json

from django.core.management.base import BaseCommand, CommandError

from health.report import analyze_file, report_dict, report_text

BAD_INPUT = 2


class Command(BaseCommand):
    help = ("Analyse one channel of a signal file (CSV, NPY, NPZ, MAT, Parquet) with the health core: indicators, "
            "band, SES peaks, fault frequencies, health index and level. Bad input exits with code 2.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="signal file; a CWRU .mat file gives its channel, rate and shaft speed itself")
        parser.add_argument("--channel", help="channel (column) to analyse; default: CWRU 'DE', else the first")
        parser.add_argument("--fs", type=float, help="sampling rate in Hz, if the file does not give it")
        parser.add_argument("--rpm", type=float, help="shaft speed in rev/min (default: the file's, e.g. CWRU)")
        parser.add_argument("--bearing", help="bearing preset (6205 = CWRU drive end, 6203) or "
                                              "BALLS,BALL_DIAMETER,PITCH_DIAMETER,CONTACT_DEG")
        parser.add_argument("--baseline", nargs="+", default=[], metavar="FILE",
                            help="healthy reference file(s) of the same channel and operating condition")
        parser.add_argument("--stroke-rate", type=float, help="press stroke rate (strokes/min)")
        parser.add_argument("--kurtogram-level", type=int, default=6, help="deepest kurtogram level (default 6)")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")

    def handle(self, *args, **options):
        try:
            result, source = analyze_file(
                options["file"], channel=options["channel"], sampling_rate_hz=options["fs"], rpm=options["rpm"],
                bearing=options["bearing"], baseline_paths=options["baseline"],
                stroke_rate_spm=options["stroke_rate"], kurtogram_level=options["kurtogram_level"])
        except (ValueError, OSError) as exc:  # the cores' errors (SignalError, SignalFormatError) are ValueErrors
            raise CommandError(str(exc), returncode=BAD_INPUT) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report_dict(result, source)))
        else:
            self.stdout.write(report_text(result, source))
