"""``manage.py health_analyze`` on real CWRU records and on bad input (exit code 2)."""
from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from health.core.validation import MIN_SAMPLES
from tests.conftest import REPO_ROOT, shared_data_path

# The command reads files only; no database.

CWRU_BPFO_ORDER, CWRU_BPFI_ORDER = 3.5848, 5.4152


def run(*args) -> str:
    out = StringIO()
    call_command("health_analyze", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_cwru_outer_race_record_in_json():
    path = shared_data_path("cwru", "12k_Drive_End_OR007@6_0_130.mat")
    report = json.loads(run(path, "--bearing", "6205", "--json", "--kurtogram-level", "5"))
    assert report["source"]["channel"] == "DE" and report["source"]["sampling_rate_hz"] == 12000
    shaft_hz = report["source"]["rpm"] / 60
    assert set(report["indicators"]) == {"kurtosis", "negentropy", "gini", "smoothness"}
    assert set(report["indicators"]["kurtosis"]) == {"time", "cyclic"}
    assert {"center_hz", "bandwidth_hz", "method"} <= set(report["band"])
    assert report["ses_peaks"] and {"hz", "amplitude"} <= set(report["ses_peaks"][0])
    top = report["faults"][0]
    assert {"component", "fault", "expected_hz", "found_hz", "strength"} <= set(top)
    assert (top["component"], top["fault"]) == ("bearing", "outer_race")
    assert top["expected_hz"] == pytest.approx(CWRU_BPFO_ORDER * shaft_hz, rel=1e-3)
    assert top["found_hz"] == pytest.approx(top["expected_hz"], rel=0.02)
    strengths = [fault["strength"] for fault in report["faults"]]
    assert strengths == sorted(strengths, reverse=True)
    assert report["health_index"] is None  # no baseline given
    assert report["level"] in (1, 2, 3) and report["level_name"] in ("Warning", "Alarm", "Danger")
    assert "ses" not in report and "matrices" not in report["kurtogram"]


def test_cwru_inner_race_against_the_healthy_record_as_text():
    fault = shared_data_path("cwru", "12k_Drive_End_IR007_0_105.mat")
    healthy = shared_data_path("cwru", "normal_0_97.mat")
    text = run(fault, "--bearing", "6205", "--baseline", healthy, "--kurtogram-level", "5")
    assert "PressTrust health analysis" in text and "channel    DE" in text
    assert "* bearing inner_race (BPFI)" in text
    assert "decimated by 4" in text  # the 48 kHz healthy record brought to 12 kHz
    assert "health index" in text and "level        " in text
    report = json.loads(run(fault, "--bearing", "6205", "--baseline", healthy, "--json", "--kurtogram-level", "5"))
    assert report["health_index_z"] > 6 and report["level"] >= 2
    assert report["faults"][0]["fault"] == "inner_race"


def test_custom_geometry_and_explicit_options(tmp_path):
    from health.core.simulate import simulate_bearing_signal

    path = tmp_path / "signal.csv"
    x = simulate_bearing_signal(20000, 1.0, fault="outer", shaft_hz=25.0, seed=1)
    np.savetxt(path, x[:, None], delimiter=",", header="acc", comments="")
    report = json.loads(run(path, "--fs", 20000, "--rpm", 1500, "--bearing", "9,20,100,0", "--json",
                            "--kurtogram-level", "4"))
    assert report["source"]["channel"] == "acc" and report["faults"][0]["fault"] == "outer_race"
    assert report["faults"][0]["found_hz"] == pytest.approx(90.0, rel=0.02)


def _bad_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    nan = tmp_path / "nan.csv"
    values = np.random.default_rng(0).normal(size=5000)
    values[100] = np.nan
    np.savetxt(nan, values[:, None], delimiter=",", header="acc", comments="")
    short = tmp_path / "short.npy"
    np.save(short, np.random.default_rng(1).normal(size=MIN_SAMPLES - 10))
    unknown = tmp_path / "signal.wav"
    unknown.write_bytes(b"RIFF....WAVEfmt ")
    good = tmp_path / "good.npy"
    np.save(good, np.random.default_rng(2).normal(size=5000))
    return {
        "empty file": ([empty, "--fs", 20000], "empty"),
        "NaN": ([nan, "--fs", 20000], "NaN"),
        "too short": ([short, "--fs", 20000], f"at least {MIN_SAMPLES}"),
        "unknown file type": ([unknown, "--fs", 20000], "unsupported file type"),
        "missing file": ([tmp_path / "nothing.npy", "--fs", 20000], "nothing.npy"),
        "no sampling rate": ([good], "--fs"),
        "bearing without shaft speed": ([good, "--fs", 20000, "--bearing", "6205"], "--rpm"),
        "bad bearing": ([good, "--fs", 20000, "--rpm", 1500, "--bearing", "9,big,100"], "--bearing"),
        "unknown channel": ([good, "--fs", 20000, "--channel", "XY"], "no channel"),
    }


@pytest.mark.parametrize("case", ["empty file", "NaN", "too short", "unknown file type", "missing file",
                                  "no sampling rate", "bearing without shaft speed", "bad bearing", "unknown channel"])
def test_bad_input_is_a_clear_error_with_exit_code_2(tmp_path, case):
    args, message = _bad_files(tmp_path)[case]
    with pytest.raises(CommandError) as error:
        run(*args)
    assert error.value.returncode == 2
    assert message.lower() in str(error.value).lower()


def test_exit_code_and_stderr_from_the_shell(tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("acc\n1.0\nnan\n" + "\n".join(str(v) for v in range(3000)) + "\n")
    result = subprocess.run([sys.executable, "manage.py", "health_analyze", str(path), "--fs", "20000", "--json"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "NaN" in result.stderr and result.stdout == ""
