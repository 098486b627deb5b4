"""The health core imports no Django and every function in it is documented."""

import ast
import subprocess
import sys
from pathlib import Path

import health.core

CORE_DIR = Path(health.core.__file__).resolve().parent
REPO_ROOT = CORE_DIR.parents[1]

BLOCK_DJANGO = """
import importlib.abc, pkgutil, sys

class BlockDjango(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "django" or name.startswith("django.") or name.startswith("rest_framework"):
            raise ImportError("django is not allowed in health.core: " + name)
        return None

sys.meta_path.insert(0, BlockDjango())
import health.core
for module in pkgutil.iter_modules(health.core.__path__):
    __import__("health.core." + module.name)
print("ok")
"""


def test_every_core_module_imports_with_django_blocked():
    completed = subprocess.run(
        [sys.executable, "-c", BLOCK_DJANGO], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"


def test_no_module_mentions_django_in_its_imports():
    for path in CORE_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(name.split(".")[0] in {"django", "rest_framework", "celery"} for name in names), path


def test_every_function_and_class_has_a_docstring():
    for path in sorted(CORE_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), path.name
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                assert ast.get_docstring(node), f"{path.name}:{node.lineno} {node.name}"
