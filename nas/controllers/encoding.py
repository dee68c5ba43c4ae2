"""Numeric codes of cells for the GP bandit: canonical, fixed-length, grouped by variable.

A cell is first put in canonical form (`canonical_form`): ops renumbered canonically, and the
key/value source set to the space's first value when no op reads it, so that two cells with
the same canonical key get the same code (and different keys different codes).  The code is
then the space's one-hot encoding (multi-hot for an op's inputs, zeros for inactive
variables), keeping only variables with more than one choice.  `groups` gives each variable's
columns, so the kernel can give one length scale per variable (a Hamming-style kernel).

Optionally (``bag=True``) the code ends with *bag-of-ops* columns: for every op feature
(kind, kind with one choice's value, gating) the fraction of the cell's ops that have it.
These do not depend on op order, so cells that share ops in other positions look alike.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from nas.space.canonical import canonicalise, uses_kv_source
from nas.space.genotype import Genotype
from nas.space.space import SearchSpace
from nas.space.variables import Variable, format_subset


def canonical_form(space: SearchSpace, genotype: Genotype) -> Genotype:
    """`genotype` renumbered canonically, with an unread key/value source normalised."""
    cell = canonicalise(genotype)
    if not uses_kv_source(cell) and cell.kv_source != space.kv_sources[0]:
        cell = replace(cell, kv_source=space.kv_sources[0])
    return cell


def _value_key(value: Any) -> tuple[str, Any]:
    """A dict key that keeps True apart from 1 but 1 equal to 1.0 (like `same_value`)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    return (type(value).__name__, value)


class CellEncoder:
    """Codes of canonical cells of one space (see the module docstring)."""

    def __init__(self, space: SearchSpace, bag: bool = False) -> None:
        self.space = space
        self.bag = bag
        self.variables: list[Variable] = [v for v in space.variables() if len(v.choices) > 1]
        self._index = [{_value_key(c): i for i, c in enumerate(v.choices)} for v in self.variables]
        self.groups: list[tuple[int, int]] = []  # (start, stop) columns of each variable
        offset = 0
        for var in self.variables:
            self.groups.append((offset, offset + var.width))
            offset += var.width
        self.positional_width = offset
        self.bag_features = self._bag_features() if bag else []
        self._bag_index = {f: i for i, f in enumerate(self.bag_features)}
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

    def params(self, cell: Genotype) -> dict[str, Any]:
        """The variable assignment of a cell whose op ids are 1..K in list order (canonical form)."""
        pre = cell.preprocess
        params: dict[str, Any] = {
            "kv_source": cell.kv_source,
            "preprocess.channels": pre.channels,
            "preprocess.height": pre.height,
            "preprocess.width": pre.width,
            "preprocess.frames": pre.frames,
        }
        for k, spec in enumerate(cell.ops, start=1):
            params[f"op{k}.kind"] = spec.kind
            for name, value in spec.choices.items():
                params[f"op{k}.{spec.kind}.{name}"] = value
            params[f"op{k}.gating"] = spec.gating
            params[f"op{k}.inputs"] = format_subset([e.source for e in spec.inputs])
        return params

    def encode(self, cell: Genotype) -> np.ndarray:
        """The code of a cell already in canonical form, shape (width,)."""
        code = np.zeros(self.width)
        params = self.params(cell)
        for var, index, (start, _) in zip(self.variables, self._index, self.groups):
            if var.name not in params:
                continue
            value = params[var.name]
            if var.sources is not None:
                for node in str(value).split("+"):
                    code[start + var.sources.index(int(node))] = 1.0
            else:
                code[start + index[_value_key(value)]] = 1.0
        if self.bag_features:
            start = self.positional_width
            share = 1.0 / len(cell.ops)
            for spec in cell.ops:
                for feature in self._op_features(spec.kind, spec.choices, spec.gating):
                    column = self._bag_index.get(feature)
                    if column is not None:
                        code[start + column] += share
        return code

    @staticmethod
    def _op_features(kind: str, choices: Any, gating: bool) -> list[tuple]:
        features: list[tuple] = [("kind", kind)] + [(kind, n, _value_key(v)) for n, v in choices.items()]
        if gating:
            features.append(("gating",))
        return features
