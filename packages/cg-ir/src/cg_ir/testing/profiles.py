"""Hypothesis settings profiles for cg-nas test suites (and for users' own).

``fast`` keeps property tests quick for local runs, ``ci`` is reproducible (derandomized, no
deadline, failing examples printed as reproduction blobs), ``expensive`` searches widely.

Examples:
    >>> from cg_ir.testing.profiles import PROFILES, load_profile
    >>> sorted(PROFILES)
    ['ci', 'expensive', 'fast']
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from cg_ir.errors import InvalidArgumentError

__all__ = ["PROFILES", "load_profile"]

# Graph construction and module tracing have uneven run times on loaded CI machines, so no
# profile enforces a per-example deadline, and too_slow is not a failure.
PROFILES: dict[str, settings] = {
    "fast": settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]),
    "ci": settings(
        max_examples=50,
        derandomize=True,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    ),
    "expensive": settings(
        max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    ),
}
for _name, _profile in PROFILES.items():
    settings.register_profile(_name, _profile)


def load_profile(name: str | None = None) -> str:
    """Make profile ``name`` the default hypothesis settings and return its name.

    Args:
        name: ``fast``, ``ci`` or ``expensive``; None reads the ``CGNAS_HYPOTHESIS_PROFILE``
            environment variable, falling back to ``fast``.

    Raises:
        InvalidArgumentError: not a known profile; the message lists them.
    """
    chosen = name if name is not None else os.environ.get("CGNAS_HYPOTHESIS_PROFILE", "fast")
    if chosen not in PROFILES:
        raise InvalidArgumentError(
            f"unknown hypothesis profile {chosen!r}; choose one of {', '.join(sorted(PROFILES))}"
        )
    settings.load_profile(chosen)
    return chosen
