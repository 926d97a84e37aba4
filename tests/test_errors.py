"""One error root: every error a cg-nas package raises on purpose is a ``cg_ir.errors.CgError``.

Each package defines its errors only in its ``errors`` module, exports every one of them from
the package itself, and gives each a built-in base too (``ValueError``, ``FileNotFoundError``,
...), so generic code that catches built-ins keeps working.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from cg_ir.errors import CgError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cg_ir", "cg_predict", "cg_contrast", "cg_evo")
# raised and caught inside cg-evo to end a search's loop, never seen by a user
CONTROL_FLOW = {("cg_evo", "QueryBudgetExhausted")}


def _error_classes(package: str) -> list[type[BaseException]]:
    module = importlib.import_module(f"{package}.errors")
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == module.__name__
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_error_is_a_cg_error_and_a_builtin(package: str) -> None:
    classes = _error_classes(package)
    assert classes
    generic = (Exception, BaseException, object)
    for cls in classes:
        assert issubclass(cls, CgError), cls
        if cls.__name__.startswith("Cg"):  # a package's root: CgError, CgIrError, ...
            continue
        refined = [b for b in cls.__mro__ if b.__module__ == "builtins" and b not in generic]
        assert refined, f"{cls.__name__} refines no built-in exception"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_error_is_exported_by_its_package(package: str) -> None:
    errors = importlib.import_module(f"{package}.errors")
    top = importlib.import_module(package)
    for cls in _error_classes(package):
        assert cls.__name__ in errors.__all__, f"{package}.errors.__all__ lacks {cls.__name__}"
        assert cls.__name__ in top.__all__, f"{package}.__all__ lacks {cls.__name__}"
        assert getattr(top, cls.__name__) is cls


def _exception_classes_outside_errors(package: str) -> list[str]:
    src = ROOT / "packages" / package.replace("_", "-") / "src" / package
    found = []
    for path in sorted(src.rglob("*.py")):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and (
                node.name.endswith(("Error", "Exception", "Exhausted"))
                and (package, node.name) not in CONTROL_FLOW
            ):
                found.append(f"{path.relative_to(ROOT)}: {node.name}")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_errors_are_defined_only_in_errors_modules(package: str) -> None:
    assert _exception_classes_outside_errors(package) == []
