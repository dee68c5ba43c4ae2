"""The layout of the GP bandit's cell codes: which columns each variable of a space takes.

A code (built by `cell_codes.CodeBook` for cells in its canonical form, so that isomorphic
cells share one code) is the space's one-hot encoding (multi-hot for an op's inputs, zeros for
inactive variables), keeping only variables with more than one choice.  `groups` gives each
variable's columns, so the kernel can give one length scale per variable (a Hamming-style
kernel).

Optionally (``bag=True``) the code ends with *bag-of-ops* columns: for every op feature
(kind, kind with one choice's value, gating) the fraction of the cell's ops that have it.
These do not depend on op order, so cells that share ops in other positions look alike.
"""

from __future__ import annotations

from typing import Any

from nas.space.space import SearchSpace
from nas.space.variables import Variable


def _value_key(value: Any) -> tuple[str, Any]:
    """A dict key that keeps True apart from 1 but 1 equal to 1.0 (like `same_value`)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    return (type(value).__name__, value)


class CellEncoder:
    """The code layout of one space: variables, their column groups, bag features (module docstring)."""

    def __init__(self, space: SearchSpace, bag: bool = False) -> None:
        self.space = space
        self.bag = bag
        self.variables: list[Variable] = [v for v in space.variables() if len(v.choices) > 1]
        self.groups: list[tuple[int, int]] = []  # (start, stop) columns of each variable
        offset = 0
        for var in self.variables:
            self.groups.append((offset, offset + var.width))
            offset += var.width
        self.positional_width = offset
        self.bag_features = self._bag_features() if bag else []
        self.bag_column = {f: offset + i for i, f in enumerate(self.bag_features)}  # feature -> code column
        if self.bag_features:
            self.groups.append((offset, offset + len(self.bag_features)))
        self.width = offset + len(self.bag_features)

    def _bag_features(self) -> list[tuple]:
        features: list[tuple] = []
        for kc in self.space.kinds:
            if len(self.space.kinds) > 1:
                features.append(("kind", kc.kind))
            features += [(kc.kind, name, _value_key(v)) for name, values in kc.choices if len(values) > 1 for v in values]
        if len(self.space.gating) > 1:
            features.append(("gating",))
        return features

    @staticmethod
    def op_features(kind: str, choices: Any, gating: bool) -> list[tuple]:
        """The bag-of-ops features of one op (kind, kind with each choice's value, gating)."""
        features: list[tuple] = [("kind", kind)] + [(kind, n, _value_key(v)) for n, v in choices.items()]
        if gating:
            features.append(("gating",))
        return features
