"""Package attributes that import their module on first use (PEP 562), for cheap imports.

cg-nas's packages keep ``import cg_predict`` and ``cgnas --help`` fast by loading torch and
torch-geometric only when a name that needs them is first used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, names: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``names`` load on first use.

    Args:
        package: the package's ``__name__``.
        names: public name -> the module that defines it (the module itself where the name
            is a submodule's, e.g. ``"metrics": "cg_predict.metrics"``).
        public: the package's ``__all__``, for ``dir()``.

    Examples:
        >>> getattr_, dir_ = lazy_attributes("cg_ir", {"render": "cg_ir.render"}, ["render"])
        >>> getattr_("render").__name__, "render" in dir_()
        ('cg_ir.render', True)
    """

    def __getattr__(name: str) -> object:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(target)
        value = module if target == f"{package}.{name}" else getattr(module, name)
        setattr(sys.modules[package], name, value)  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return __getattr__, __dir__
