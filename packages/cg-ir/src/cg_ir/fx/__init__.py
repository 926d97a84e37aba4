"""Any PyTorch CNN as a computation graph: trace with torch.fx, lower to cg-ir primitives."""

from cg_ir.fx._convert import from_module

__all__ = ["from_module"]
