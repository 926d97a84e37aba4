"""Parsing of ``name=value|name=value`` keys, shared by the families that use that form."""

from __future__ import annotations

from cg_ir.errors import InvalidSpecError

__all__ = ["int_list", "key_fields"]


def key_fields(
    family: str, key: object, names: tuple[str, ...], form: str, value_hint: str = ""
) -> dict[str, str]:
    """The stripped value of every field of ``key``; each of ``names`` exactly once.

    Raises:
        InvalidSpecError: not a string, an unknown, repeated or missing field.
    """
    article = "an" if family[0] in "aeiou" else "a"
    if not isinstance(key, str):
        raise InvalidSpecError(f"{article} {family} key is a string {form!r}, got {key!r}")
    expected = f"expected {form!r}" + (f" ({value_hint})" if value_hint else "")
    fields: dict[str, str] = {}
    for part in key.strip().split("|"):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in names or name in fields:
            raise InvalidSpecError(
                f"cannot parse {family} key {key!r}: bad or repeated field {part!r}; {expected}"
            )
        fields[name] = value.strip()
    missing = [f for f in names if f not in fields]
    if missing:
        raise InvalidSpecError(f"{family} key {key!r} lacks field(s) {missing}; expected {form!r}")
    return fields


def int_list(family: str, key: str, form: str, text: str) -> list[int]:
    """The comma-separated integers of one field's ``text``."""
    try:
        return [int(v) for v in text.split(",")]
    except ValueError as err:
        raise InvalidSpecError(
            f"{family} key {key!r} holds a value that is not an integer ({err}); expected {form!r}"
        ) from None
