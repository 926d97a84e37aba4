"""cg-predict's ``cgnas`` commands: ``predict`` and ``proxy-agreement``.

Each is registered in the ``cgnas.commands`` entry-point group; registering one imports
neither torch nor the models, so that ``cgnas --help`` stays fast.
"""

from cg_predict.cli.predict import register_predict, run_predict
from cg_predict.cli.proxy_agreement import register_proxy_agreement, run_proxy_agreement

__all__ = ["register_predict", "register_proxy_agreement", "run_predict", "run_proxy_agreement"]
