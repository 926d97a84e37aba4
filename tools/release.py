"""Release helper: bump one package's version and check that its siblings still accept it.

Usage: python tools/release.py check [--root DIR]
       python tools/release.py bump PACKAGE {major,minor,patch,X.Y.Z} [--date YYYY-MM-DD]
                                    [--dry-run] [--root DIR]

Each package (``packages/<name>``) states its version in three places that must agree: its
``pyproject.toml`` (``[project] version``), its ``__version__`` and a ``## [X.Y.Z]`` heading
of its ``CHANGELOG.md``. ``check`` verifies that for every package, that each CHANGELOG keeps an
``## [Unreleased]`` section, and that every requirement a package has on a sibling
(dependencies and extras) accepts the sibling's version; it exits 1 listing every problem.

``bump`` sets the new version in the three places (the ``[Unreleased]`` entries move under a
new ``## [X.Y.Z] - date`` heading; an empty ``[Unreleased]`` stays on top), then runs ``check``:
a sibling whose range excludes the new version is reported with its file and requirement, and
left for its maintainer to widen, since only they know whether it works with the new version.
Files are written only when the new version is valid; ``--dry-run`` prints the changes only.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cg-ir", "cg-predict", "cg-contrast", "cg-evo")
UNRELEASED = "## [Unreleased]"
_PYPROJECT_VERSION = re.compile(r'^(version\s*=\s*")([^"]+)(")', re.MULTILINE)
_INIT_VERSION = re.compile(r'^(__version__\s*=\s*")([^"]+)(")', re.MULTILINE)


@dataclass(frozen=True)
class Package:
    """Where one package's version is stated."""

    name: str
    root: Path

    @property
    def pyproject(self) -> Path:
        return self.root / "pyproject.toml"

    @property
    def changelog(self) -> Path:
        return self.root / "CHANGELOG.md"

    @property
    def init(self) -> Path:
        return self.root / "src" / self.name.replace("-", "_") / "__init__.py"

    def metadata(self) -> dict[str, object]:
        """The ``[project]`` table of its pyproject."""
        return dict(tomllib.loads(self.pyproject.read_text(encoding="utf-8"))["project"])

    def version(self) -> str:
        return str(self.metadata()["version"])

    def requirements(self) -> list[Requirement]:
        """Every requirement it declares: dependencies and every extra's."""
        project = self.metadata()
        lines = list(project.get("dependencies", []))  # type: ignore[call-overload]
        for extra in dict(project.get("optional-dependencies", {})).values():  # type: ignore[call-overload]
            lines.extend(extra)
        return [Requirement(line) for line in lines]


def packages(root: Path) -> dict[str, Package]:
    """The workspace's packages under ``root``."""
    return {name: Package(name, root / "packages" / name) for name in PACKAGES}


def _stated_version(pattern: re.Pattern[str], path: Path) -> str | None:
    found = pattern.search(path.read_text(encoding="utf-8"))
    return found.group(2) if found else None


def problems(root: Path) -> list[str]:
    """Every inconsistency of the packages' versions, changelogs and sibling ranges."""
    found: list[str] = []
    workspace = packages(root)
    versions = {name: Version(p.version()) for name, p in workspace.items()}
    for name, package in workspace.items():
        version = str(versions[name])
        in_init = _stated_version(_INIT_VERSION, package.init)
        if in_init != version:
            found.append(f"{package.init}: __version__ {in_init!r}, pyproject says {version!r}")
        changelog = package.changelog.read_text(encoding="utf-8")
        if UNRELEASED not in changelog:
            found.append(f"{package.changelog}: no '{UNRELEASED}' section")
        if f"## [{version}]" not in changelog:
            found.append(f"{package.changelog}: no '## [{version}]' heading")
        for requirement in package.requirements():
            sibling = requirement.name
            if sibling in versions and not requirement.specifier.contains(
                versions[sibling], prereleases=True
            ):
                found.append(
                    f"{package.pyproject}: requires '{requirement}', which excludes "
                    f"{sibling} {versions[sibling]}: widen the range if {name} works with it"
                )
    return found


def next_version(current: str, step: str) -> Version:
    """``step`` (major, minor, patch, or an explicit version) applied to ``current``."""
    major, minor, patch = Version(current).release[:3]
    bumped = {
        "major": f"{major + 1}.0.0",
        "minor": f"{major}.{minor + 1}.0",
        "patch": f"{major}.{minor}.{patch + 1}",
    }
    try:
        new = Version(bumped.get(step, step))
    except InvalidVersion:
        raise SystemExit(f"not a version or major/minor/patch: {step!r}") from None
    if new <= Version(current):
        raise SystemExit(f"the new version {new} is not above the current {current}")
    return new


def _replace_version(pattern: re.Pattern[str], text: str, version: Version, path: Path) -> str:
    new, count = pattern.subn(rf"\g<1>{version}\g<3>", text, count=1)
    if count != 1:
        raise SystemExit(f"{path}: no version line to update")
    return new


def _release_changelog(text: str, version: Version, date: str, path: Path) -> str:
    if UNRELEASED not in text:
        raise SystemExit(f"{path}: no '{UNRELEASED}' section to release")
    return text.replace(UNRELEASED, f"{UNRELEASED}\n\n## [{version}] - {date}", 1)


def bump(root: Path, name: str, step: str, date: str, dry_run: bool) -> list[str]:
    """Set package ``name``'s new version everywhere; the problems left (siblings' ranges)."""
    package = packages(root)[name]
    version = next_version(package.version(), step)
    pyproject, init, changelog = package.pyproject, package.init, package.changelog
    updates = {
        pyproject: _replace_version(
            _PYPROJECT_VERSION, pyproject.read_text("utf-8"), version, pyproject
        ),
        init: _replace_version(_INIT_VERSION, init.read_text("utf-8"), version, init),
        changelog: _release_changelog(changelog.read_text("utf-8"), version, date, changelog),
    }
    print(f"{name}: {package.version()} -> {version}")
    for path in updates:
        print(f"  {'would update' if dry_run else 'updated'} {path.relative_to(root)}")
    if dry_run:
        return []
    for path, text in updates.items():
        path.write_text(text, encoding="utf-8")
    return problems(root)


def main(argv: list[str] | None = None) -> int:
    """Run ``check`` or ``bump``; exit 1 when a problem is left."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the workspace (default: this one)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="check every package's version, changelog and sibling ranges")
    bump_parser = commands.add_parser("bump", help="bump one package's version")
    bump_parser.add_argument("package", choices=PACKAGES)
    bump_parser.add_argument("step", help="major, minor, patch or an explicit version X.Y.Z")
    bump_parser.add_argument("--date", default=datetime.date.today().isoformat())
    bump_parser.add_argument("--dry-run", action="store_true", help="print the changes only")
    args = parser.parse_args(argv)
    if args.command == "bump":
        left = bump(args.root, args.package, args.step, args.date, args.dry_run)
    else:
        left = problems(args.root)
    for line in left:
        print(f"problem: {line}", file=sys.stderr)
    if args.command == "check" and not left:
        print("every package's version, changelog and sibling ranges agree")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
