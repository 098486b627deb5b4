"""The ABS core imports no Django: every module loads with Django made unimportable."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import lending.core.abs as abs_package

REPO = Path(__file__).resolve().parents[3]

BLOCKER = """
import importlib.abc, sys
class NoDjango(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "django" or name.startswith("django."):
            raise ImportError("Django must not be imported by the ABS core: " + name)
        return None
sys.meta_path.insert(0, NoDjango())
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
assert not any(m == "django" or m.startswith("django.") for m in sys.modules)
print("ok", len(sys.argv) - 1)
"""


def test_every_abs_module_imports_without_django():
    modules = ["lending.core.abs"] + [f"lending.core.abs.{m.name}" for m in pkgutil.iter_modules(abs_package.__path__)]
    assert "lending.core.abs.waterfall" in modules and "lending.core.abs.cli" in modules
    done = subprocess.run([sys.executable, "-c", BLOCKER, *modules], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ok {len(modules)}"
