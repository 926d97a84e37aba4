"""The one way the workspace tools write a JSON report: atomically, UTF-8, a final newline.

A report is written to a temporary file beside ``path`` and renamed over it
(``cg_ir.atomic_output``), so an interrupted tool never leaves a truncated report behind.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cg_ir import atomic_output


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` to ``path`` as indented JSON, atomically."""
    with atomic_output(path) as handle:
        handle.write((json.dumps(payload, indent=1) + "\n").encode("utf-8"))
