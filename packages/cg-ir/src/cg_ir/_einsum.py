"""A two-operand einsum read as one batched matrix product (shared by the fx and ONNX frontends)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EinsumProduct", "einsum_product"]


@dataclass(frozen=True)
class EinsumProduct:
    """The index roles of ``a,b->output``.

    Indices of both operands and the output are ``batch`` axes, of both operands alone the
    ``contracted`` ones (K), of one operand and the output its free axes (M of ``a``, N of
    ``b``): the operands become (batch, M, K) and (batch, K, N) for one matmul.
    """

    a: str
    b: str
    output: str
    batch: list[str]
    contracted: list[str]
    free_a: list[str]
    free_b: list[str]


def einsum_product(equation: str) -> EinsumProduct:
    """The product an einsum ``equation`` of two operands describes.

    Raises:
        ValueError: not two operands with an explicit output, an ellipsis, an index repeated
            in one term, or an axis summed in one operand alone.

    Examples:
        >>> p = einsum_product("bhid, bhjd -> bhij")
        >>> p.batch, p.contracted, p.free_a, p.free_b
        (['b', 'h'], ['d'], ['i'], ['j'])
    """
    equation = equation.replace(" ", "")
    inputs, _, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != 2 or "." in equation or not output:
        raise ValueError(
            f"einsum {equation!r}: only a product of two operands with an output is lowered"
        )
    a, b = terms
    product = EinsumProduct(
        a,
        b,
        output,
        batch=[i for i in output if i in a and i in b],
        contracted=[i for i in a if i in b and i not in output],
        free_a=[i for i in a if i not in b],
        free_b=[i for i in b if i not in a],
    )
    repeated = any(len(set(t)) != len(t) for t in (a, b, output))
    if repeated or sorted(product.batch + product.free_a + product.free_b) != sorted(output):
        raise ValueError(
            f"einsum {equation!r} repeats an index in one term or sums an axis of one operand "
            "alone; only products of two operands are lowered"
        )
    return product
