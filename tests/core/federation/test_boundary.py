"""federation/core is a pure library: every module imports with Django unavailable."""
import pkgutil
import subprocess
import sys
from pathlib import Path

import federation.core

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_every_core_module_imports_without_django():
    modules = sorted(f"federation.core.{m.name}" for m in pkgutil.iter_modules(federation.core.__path__))
    assert {"federation.core.fedma", "federation.core.strategies", "federation.core.envelope"} <= set(modules)
    script = (
        "import importlib, sys\n"
        "sys.modules['django'] = None  # any 'import django...' now fails\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert not [m for m in sys.modules if m.startswith('django') and sys.modules[m] is not None]\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
