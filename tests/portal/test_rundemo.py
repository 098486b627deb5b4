"""The README's run command, as a newcomer uses it: ``manage.py rundemo`` migrates an embedded SQLite
database, loads the demo, starts the web server and a real Celery worker on the filesystem broker, prints
the URL and the logins; Ctrl-C stops both; a second run reuses the database and data."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

DEMO_USERS = ("admin", "ent1_manager", "ent2_manager", "bank1_officer1", "bank1_officer2", "bank2_officer1",
              "bank2_officer2", "auditor")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes_started_for(var_dir: Path) -> list[int]:
    """Processes whose environment names this run's data folder (the server, the worker and its pool)."""
    found = []
    marker = f"PRESSTRUST_VAR_DIR={var_dir}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _run_until_banner(var_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "STORAGE_ROOT", "BROKER_DIR", "PYTEST_XDIST_WORKER")}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings.local", PRESSTRUST_VAR_DIR=str(var_dir),
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, "manage.py", "rundemo", "--addr", f"127.0.0.1:{port}",
                                "--concurrency", "1"], cwd=REPO_ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.time() + 420
    while time.time() < deadline:
        text = log_path.read_text(errors="replace")
        if "Press Ctrl-C" in text:
            return process
        if process.poll() is not None:
            pytest.fail(f"rundemo exited with {process.returncode}:\n{text[-4000:]}")
        time.sleep(1)
    os.killpg(process.pid, signal.SIGKILL)
    pytest.fail("rundemo printed no banner in 420 s:\n" + log_path.read_text(errors="replace")[-4000:])


def _ctrl_c(process: subprocess.Popen, var_dir: Path, log_path: Path) -> str:
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0, log_path.read_text(errors="replace")[-4000:]
    deadline = time.time() + 20
    while _processes_started_for(var_dir) and time.time() < deadline:
        time.sleep(0.5)
    assert _processes_started_for(var_dir) == [], "the web server or the worker outlived Ctrl-C"
    return log_path.read_text(errors="replace")


def test_rundemo_starts_server_and_worker_prints_logins_stops_cleanly_and_runs_again(tmp_path):
    var_dir = tmp_path / "var"
    port = _free_port()
    first = _run_until_banner(var_dir, port, tmp_path / "first.log")
    try:
        text = (tmp_path / "first.log").read_text()
        assert f"PressTrust is running at http://127.0.0.1:{port}/" in text
        for username in DEMO_USERS:
            assert f"\n    {username} " in text
        assert text.count("   TOTP key ") == 6  # officers, the auditor and the admin; managers need none
        assert "open alarm" in text and "(Finished)" in text and "awaits bank1_officer2" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            report = json.load(response)
        assert report["ok"] and any(w["hostname"].startswith("embedded@") for w in report["workers"]["alive"])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as response:
            assert response.status == 200
        assert (var_dir / "presstrust.sqlite3").exists() and (var_dir / "broker").is_dir()
    finally:
        text = _ctrl_c(first, var_dir, tmp_path / "first.log")
    assert "Stopping the web server and the worker" in text and text.rstrip().endswith("Stopped.")

    # Idempotent: the same command again reuses the database and the demo data.
    second = _run_until_banner(var_dir, port, tmp_path / "second.log")
    try:
        text = (tmp_path / "second.log").read_text()
        assert "Traceback" not in text and "\n    ent1_manager " in text
    finally:
        _ctrl_c(second, var_dir, tmp_path / "second.log")
