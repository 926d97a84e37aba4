"""``tools/release.py``: one package's version bumped everywhere, siblings' ranges checked."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "release.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of each package's version files (pyproject, CHANGELOG, ``__init__``)."""
    tool = _tool()
    for package in tool.packages(ROOT).values():
        for path in (package.pyproject, package.changelog, package.init):
            target = tmp_path / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return tmp_path


def test_the_workspace_is_consistent() -> None:
    assert _tool().problems(ROOT) == []


def test_a_patch_bump_updates_the_three_places_and_keeps_the_siblings_happy(
    workspace: Path,
) -> None:
    tool = _tool()
    package = tool.packages(workspace)["cg-evo"]
    before = package.version()
    argv = ["--root", str(workspace), "bump", "cg-evo", "patch", "--date", "2027-01-02"]
    assert tool.main(argv) == 0
    major, minor, patch = (int(x) for x in before.split("."))
    new = f"{major}.{minor}.{patch + 1}"
    assert package.version() == new
    assert f'__version__ = "{new}"' in package.init.read_text()
    changelog = package.changelog.read_text()
    assert f"## [Unreleased]\n\n## [{new}] - 2027-01-02" in changelog
    assert tool.problems(workspace) == []


def test_a_bump_outside_a_siblings_range_is_reported_not_widened(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tool = _tool()
    siblings = workspace / "packages" / "cg-predict" / "pyproject.toml"
    before = siblings.read_text()
    assert tool.main(["--root", str(workspace), "bump", "cg-ir", "major"]) == 1
    err = capsys.readouterr().err
    assert "packages/cg-predict/pyproject.toml: requires 'cg-ir" in err
    assert "widen the range" in err
    assert siblings.read_text() == before


def test_a_dry_run_writes_nothing_and_a_lower_version_is_refused(workspace: Path) -> None:
    tool = _tool()
    package = tool.packages(workspace)["cg-ir"]
    before = package.pyproject.read_text()
    assert tool.main(["--root", str(workspace), "bump", "cg-ir", "minor", "--dry-run"]) == 0
    assert package.pyproject.read_text() == before
    with pytest.raises(SystemExit, match="not above the current"):
        tool.main(["--root", str(workspace), "bump", "cg-ir", "0.0.1"])
    with pytest.raises(SystemExit, match="not a version"):
        tool.main(["--root", str(workspace), "bump", "cg-ir", "next"])


def test_check_finds_a_version_that_disagrees(workspace: Path) -> None:
    tool = _tool()
    init = tool.packages(workspace)["cg-contrast"].init
    init.write_text(init.read_text().replace('__version__ = "', '__version__ = "9', 1))
    assert any("cg_contrast/__init__.py: __version__" in p for p in tool.problems(workspace))
