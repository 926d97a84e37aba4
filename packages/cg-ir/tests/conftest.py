"""Shared set-up of cg-ir's tests: the hypothesis settings profile.

``CGNAS_HYPOTHESIS_PROFILE`` picks it (``fast`` when unset; CI sets ``ci``, which is
derandomized so a CI run is reproducible).
"""

from __future__ import annotations

from cg_ir.testing.profiles import load_profile

load_profile()
