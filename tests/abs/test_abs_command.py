"""The analyst's command: the portal's ABS engine from POOL.csv + STRUCTURE.json."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

DATA = REPO_ROOT / "tests" / "core" / "abs" / "data"


def _run(*args):
    return subprocess.run([sys.executable, "manage.py", "abs_simulate", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)


def test_json_output_has_the_documented_keys_and_is_reproducible():
    args = ["--pool", str(DATA / "pool.csv"), "--structure", str(DATA / "structure.json"), "--scenarios", "5000",
            "--seed", "7", "--json"]
    first, second = _run(*args), _run(*args)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert json.loads(second.stdout)["tranches"] == result["tranches"]  # same seed, same numbers
    assert {"expected_loss", "var_99", "var_999", "expected_shortfall_99"} <= set(result["pool"])
    for tranche in result["tranches"]:
        assert {"name", "attachment", "detachment", "expected_loss", "probability_of_loss", "loss_given_loss",
                "wal_years"} <= set(tranche)
        assert 0.0 <= tranche["expected_loss"] <= 1.0
    senior = max(result["tranches"], key=lambda t: t["attachment"])
    junior = min(result["tranches"], key=lambda t: t["attachment"])
    assert senior["expected_loss"] <= junior["expected_loss"]
    correlated = json.loads(_run(*args, "--correlation", "0.5").stdout)
    assert correlated["pool"]["var_999"] > result["pool"]["var_999"]
    text = _run("--pool", str(DATA / "pool.csv"), "--structure", str(DATA / "structure.json"), "--scenarios", "2000")
    assert text.returncode == 0 and "Equity" in text.stdout


def test_bad_files_get_a_clear_message_and_exit_code_2(tmp_path):
    structure = json.loads((DATA / "structure.json").read_text())
    structure["tranches"][0]["detachment"] = structure["tranches"][0]["detachment"] + 0.05  # overlap / gap
    bad_structure = tmp_path / "structure.json"
    bad_structure.write_text(json.dumps(structure))
    result = _run("--pool", str(DATA / "pool.csv"), "--structure", str(bad_structure), "--scenarios", "100")
    assert result.returncode == 2 and "tranche" in result.stderr.lower()
    bad_pool = tmp_path / "pool.csv"
    rows = (DATA / "pool.csv").read_text().splitlines()
    header = rows[0].split(",")
    broken = rows[1].split(",")
    broken[header.index("lgd")] = "1.7"
    bad_pool.write_text("\n".join([rows[0], ",".join(broken), *rows[2:]]) + "\n")
    result = _run("--pool", str(bad_pool), "--structure", str(DATA / "structure.json"), "--scenarios", "100")
    assert result.returncode == 2 and "lgd" in result.stderr and "row" in result.stderr.lower()
    missing = _run("--pool", str(tmp_path / "nope.csv"), "--structure", str(DATA / "structure.json"))
    assert missing.returncode == 2 and "No such file" in missing.stderr
    negative = _run("--pool", str(DATA / "pool.csv"), "--structure", str(DATA / "structure.json"), "--scenarios", "0")
    assert negative.returncode == 2
