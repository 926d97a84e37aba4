"""Every package of the workspace registers its ``cgnas reproduce`` experiments."""

from __future__ import annotations

from cg_ir.experiments import registered_experiments
from cg_ir.provenance import code_digest


def test_every_package_registers_its_experiments() -> None:
    registered = {e.name: e for e in registered_experiments()}
    names = {"graph-statistics", "graph-anatomy", "conversion-speed", "zoo-coverage", "cli-startup"}
    names |= {"proxy-agreement", "default-checkpoint", "transfer", "inference-speed"}
    names |= {"contrast-ablation", "contrast-speed", "search"}
    assert names <= set(registered)
    orders = [e.order for e in registered_experiments()]
    assert orders == sorted(orders)  # cheap, basic experiments first
    for experiment in registered.values():
        assert experiment.full_minutes > 0
        assert len(code_digest(*experiment.code)) == 64  # every code name is importable
