"""``python -m cg_ir.cli ARGS``: the ``cgnas`` command without its console script."""

import sys

from cg_ir.cli.program import main

if __name__ == "__main__":
    sys.exit(main())
