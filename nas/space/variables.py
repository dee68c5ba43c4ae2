"""A search space as a flat list of categorical variables (some conditional on an op's kind).

This one parameterisation serves sampling, mutation, enumeration, the GP's numeric encoding
and Optuna's ``suggest_categorical``: a genotype <-> a dict ``{variable name: value}``.

Variable names: ``kv_source``, ``preprocess.channels`` (and ``.height``, ``.width``,
``.frames``), and for op k (1-based): ``op{k}.kind``, ``op{k}.gating``, ``op{k}.inputs``
(a subset of earlier nodes written as ``"0+2"``), and ``op{k}.{kind}.{choice}``, active only
when ``op{k}.kind`` is that kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.io import short


@dataclass(frozen=True)
class Variable:
    """One categorical variable of a search space.

    `active_if` is ``(variable name, value)`` for conditional variables.  `sources` is set for
    an ``inputs`` variable: its values are subsets of `sources`, and its numeric code is
    multi-hot over `sources` (similar subsets share coordinates), not one-hot over subsets.
    """

    name: str
    choices: tuple[Any, ...]
    active_if: tuple[str, Any] | None = None
    sources: tuple[int, ...] | None = None

    @property
    def width(self) -> int:
        """Length of this variable's block in the numeric code."""
        return len(self.sources) if self.sources is not None else len(self.choices)

    def index(self, value: Any) -> int:
        """Position of `value` among the choices (ValueError when absent)."""
        for i, choice in enumerate(self.choices):
            if same_value(value, choice):
                return i
        raise ValueError(f"{self.name}: {short(value)} is not one of {list(self.choices)}")

    def encode(self, value: Any | None) -> list[float]:
        """The numeric block: one-hot (multi-hot for inputs); all zeros when inactive."""
        block = [0.0] * self.width
        if value is None:
            return block
        if self.sources is not None:
            for node in parse_subset(value):
                block[self.sources.index(node)] = 1.0
        else:
            block[self.index(value)] = 1.0
        return block

    def decode(self, block: list[float]) -> Any:
        """Inverse of `encode` for an active variable (largest entry; inputs: entries > 0.5)."""
        if self.sources is not None:
            chosen = [node for node, bit in zip(self.sources, block) if bit > 0.5]
            value = format_subset(chosen)
            self.index(value)
            return value
        best = max(range(len(block)), key=lambda i: block[i])
        return self.choices[best]

    def is_active(self, params: dict[str, Any]) -> bool:
        """Whether this variable takes part given the (earlier) values in `params`."""
        return self.active_if is None or (
            self.active_if[0] in params and same_value(params[self.active_if[0]], self.active_if[1])
        )


def format_subset(nodes: list[int] | tuple[int, ...]) -> str:
    """[0, 2] -> "0+2"."""
    return "+".join(str(n) for n in sorted(nodes))


def parse_subset(text: str) -> list[int]:
    """"0+2" -> [0, 2]."""
    return [int(part) for part in str(text).split("+")]


def same_value(a: Any, b: Any) -> bool:
    """Equality for choice values: 1 == 1.0, but True is not 1 and "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b
