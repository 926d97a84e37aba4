"""Smoke test for the workspace: all four packages import, and depend on each other one way only.

Allowed direction: cg_ir <- cg_predict <- {cg_contrast, cg_evo}. cg_ir imports no sibling;
cg_predict imports only cg_ir; cg_contrast and cg_evo import cg_ir and cg_predict, not each other.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

PACKAGES = ("cg_ir", "cg_predict", "cg_contrast", "cg_evo")
ALLOWED = {
    "cg_ir": set(),
    "cg_predict": {"cg_ir"},
    "cg_contrast": {"cg_ir", "cg_predict"},
    "cg_evo": {"cg_ir", "cg_predict"},
}
ROOT = Path(__file__).resolve().parents[1]


def _source_dir(package: str) -> Path:
    return ROOT / "packages" / package.replace("_", "-") / "src" / package


def _imported_siblings(path: Path) -> set[str]:
    """Top-level cg_* packages that a source file imports (also inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_with_version(package: str) -> None:
    module = importlib.import_module(package)
    # the distribution is named as the package's directory (and pyproject name): cg_ir -> cg-ir
    assert module.__version__ == importlib.metadata.version(package.replace("_", "-"))
    assert isinstance(module.__all__, list | tuple)


@pytest.mark.parametrize("package", PACKAGES)
def test_package_ships_py_typed(package: str) -> None:
    assert (_source_dir(package) / "py.typed").is_file()


@pytest.mark.parametrize("package", PACKAGES)
def test_dependency_direction(package: str) -> None:
    files = sorted(_source_dir(package).rglob("*.py"))
    assert files, f"no source files found for {package} under {_source_dir(package)}"
    forbidden = set(PACKAGES) - ALLOWED[package] - {package}
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_siblings(path) & forbidden)
        for path in files
        if _imported_siblings(path) & forbidden
    }
    assert not offenders, (
        f"{package} may import only {sorted(ALLOWED[package]) or 'no sibling'}; "
        f"these files import other cg-* packages: {offenders}"
    )


def test_declared_dependencies_match_direction() -> None:
    """Each package's pyproject declares exactly the siblings it may import."""
    for package, allowed in ALLOWED.items():
        pyproject = ROOT / "packages" / package.replace("_", "-") / "pyproject.toml"
        deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
        names = {re.split(r"[\s<>=!~;\[(]", dep, maxsplit=1)[0] for dep in deps}
        declared = {name.replace("-", "_") for name in names} & set(PACKAGES)
        assert declared == allowed, (
            f"{pyproject}: declares siblings {sorted(declared)}, expected {sorted(allowed)}"
        )
