"""The lending core imports without Django (numpy / scipy only)."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import lending.core

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_every_top_level_core_module_imports_with_django_blocked():
    modules = sorted(
        f"lending.core.{info.name}" for info in pkgutil.iter_modules(lending.core.__path__) if not info.ispkg
    )
    assert "lending.core.scorecard" in modules and "lending.core.optimal_terms" in modules
    # A None entry in sys.modules makes any "import django" raise ImportError.
    program = (
        "import importlib, sys\n"
        "sys.modules['django'] = None\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print('ok')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"
