"""Print the package index pip would use, so Poetry can be pointed at the same one.

Order: the ``PIP_INDEX_URL`` environment variable, then pip's configuration
(``pip config get global.index-url``, then ``install.index-url``), then pip's built-in default.
No host is written here: the default comes from pip itself.
"""

from __future__ import annotations

import os
import subprocess
import sys


def _from_pip_config() -> str | None:
    for key in ("global.index-url", "install.index-url"):
        done = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", key],
            capture_output=True,
            text=True,
            check=False,
        )
        value = done.stdout.strip()
        if done.returncode == 0 and value:
            return value
    return None


def main() -> None:
    url = os.environ.get("PIP_INDEX_URL") or _from_pip_config()
    if not url:
        # pip's built-in default index (private pip API, used only so that no file names a host).
        from pip._internal.models.index import PyPI

        url = PyPI.simple_url
    print(url)


if __name__ == "__main__":
    main()
