"""Strict readers for plain JSON/YAML data: every error names the field path that is wrong.

Shared by the search-space DSL, genotypes and supergraphs so that all three report bad
input the same way (``<source>: ops[2].inputs[0].from: ...``).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from nas.errors import UserError
from nas.io import short


class Fields:
    """A view of one mapping in a document that knows its own path for error messages."""

    def __init__(self, data: Any, path: str, source: str) -> None:
        if not isinstance(data, Mapping):
            raise UserError(f"{source}: {path or 'document'}: expected a mapping, got {type_name(data)}")
        self.data = data
        self.path = path
        self.source = source

    def where(self, key: str | int | None = None) -> str:
        """The dotted path of `key` inside this mapping."""
        if key is None:
            return self.path or "document"
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | None, message: str) -> UserError:
        """A `UserError` for `key` of this mapping (raise it)."""
        return UserError(f"{self.source}: {self.where(key)}: {message}")

    def only(self, allowed: Iterable[str]) -> "Fields":
        """Refuse keys outside `allowed`, naming the first unknown one."""
        allowed = set(allowed)
        for key in self.data:
            if key not in allowed:
                raise self.fail(str(key), f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return self

    def has(self, key: str) -> bool:
        """Whether `key` is present."""
        return key in self.data

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, allow_none: bool = False) -> Any:
        """The value at `key`, checked against `kind`; required when no default is given."""
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "missing required key")
            return default
        value = self.data[key]
        if value is None and allow_none:
            return None
        check_type(value, kind, lambda msg: self.fail(key, msg))
        return value

    def schema(self, expected: str) -> str:
        """The document's `schema` key, which must be `expected`."""
        schema = self.get("schema", str)
        if schema != expected:
            raise self.fail("schema", f"expected {expected!r}, got {short(schema)}")
        return schema

    def one_of(self, key: str, allowed: Iterable[str]) -> str:
        """The string at `key`, which must be one of `allowed`."""
        allowed = tuple(allowed)
        value = self.get(key, str)
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)}, got {short(value)}")
        return value

    def sub(self, key: str, default: Any = ...) -> "Fields":
        """The mapping at `key` as a `Fields` (an empty one when absent and a default is given)."""
        if key not in self.data and default is not ...:
            return Fields(default, self.where(key), self.source)
        return Fields(self.get(key, dict), self.where(key), self.source)

    def items_of(self, key: str) -> list["Fields"]:
        """The list of mappings at `key`, each as a `Fields`."""
        values = self.get(key, list)
        return [Fields(item, f"{self.where(key)}[{i}]", self.source) for i, item in enumerate(values)]


def type_name(value: Any) -> str:
    """A short human name for the type of `value` as it appears in YAML/JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__


def check_type(value: Any, kind: type | tuple[type, ...], fail) -> None:
    """Raise `fail(message)` unless `value` is of `kind`; booleans never pass as numbers."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds and (int in kinds or float in kinds):
        ok = False
    elif float in kinds and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    else:
        ok = isinstance(value, kinds)
    if not ok:
        names = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
        raise fail(f"expected {names}, got {type_name(value)} {short(value)}")


_KIND_NAMES = {int: "integer", float: "number", str: "string", bool: "boolean", list: "list", dict: "mapping"}
