"""``cg_ir.provenance``: code digests of packages and modules, and the one cache key."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cg_ir import InvalidArgumentError, provenance
from cg_ir.provenance import cache_key, code_digest


def test_a_module_digest_covers_that_module_only() -> None:
    package, module = code_digest("cg_ir"), code_digest("cg_ir.provenance")
    assert len({package, module, code_digest("cg_ir", "cg_ir.provenance")}) == 3
    assert code_digest("cg_ir", "cg_ir") == package  # names are a set


def test_digests_are_computed_once_per_process() -> None:
    code_digest("cg_ir")
    start = time.perf_counter()
    for _ in range(100):
        code_digest("cg_ir")
    assert (time.perf_counter() - start) / 100 < 1e-3  # a cache hit, not a re-read


def test_an_unknown_name_is_an_error() -> None:
    with pytest.raises(InvalidArgumentError, match="not an importable package or Python module"):
        code_digest("cg_ir.no_such_module")
    with pytest.raises(InvalidArgumentError, match="not an importable"):
        code_digest("no_such_package.sub")


def test_the_cache_key_changes_with_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    identity = {"family": "nb201", "keys": ["a", "b"]}
    key = cache_key(identity, "cg_ir")
    assert key == cache_key(dict(reversed(identity.items())), "cg_ir")
    assert key != cache_key(identity) != cache_key({**identity, "keys": ["a"]})
    real = provenance._package_digest
    monkeypatch.setattr(provenance, "_package_digest", lambda name: f"edited:{real(name)}")
    assert cache_key(identity, "cg_ir") != key  # other code, another key
    assert cache_key(identity) == cache_key(identity)  # the configuration alone is unchanged


def test_a_package_digest_leaves_out_its_command_line_front_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "frontend_pkg"
    (package / "cli").mkdir(parents=True)
    (package / "sub").mkdir()
    for name in ("__init__.py", "model.py", "cli/__init__.py", "sub/__init__.py", "sub/cli.py"):
        (package / name).write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [name for name, _ in provenance._sources("frontend_pkg")] == [
        "__init__.py",
        "model.py",
        "sub/__init__.py",
    ]
    before = code_digest("frontend_pkg")
    provenance._package_digest.cache_clear()
    (package / "cli" / "__init__.py").write_text("x = 2  # a new option\n")
    (package / "sub" / "cli.py").write_text("x = 2\n")
    assert code_digest("frontend_pkg") == before
    provenance._package_digest.cache_clear()
    (package / "model.py").write_text("x = 2\n")
    assert code_digest("frontend_pkg") != before
