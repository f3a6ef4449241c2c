"""The benchmark and maintenance scripts import: a library name they use that was renamed or
moved fails here, not the next time someone runs the script."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")])


def test_there_are_scripts_to_check():
    assert {path.parent.name for path in SCRIPTS} == {"benchmarks", "scripts"}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_script_imports(path, monkeypatch):
    # As `python benchmarks/x.py` runs it: its folder first on the path (scripts import their
    # neighbours), and registered as a module (dataclasses look their module up).
    monkeypatch.syspath_prepend(str(path.parent))
    spec = importlib.util.spec_from_file_location(f"_script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)  # runs the imports and definitions, not main()
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"
