"""Cells as small integer tuples, for the GP bandit's acquisition search.

The acquisition search scores thousands of cells per ask.  Building a `Genotype` for each,
canonicalising it through JSON digests and encoding it from a dict of parameters cost about
ten times the GP's predictions, so the search works on a lighter form instead:

    Light = (kv index, (channels, height, width, frames) indices, ops)
    op    = ((kind index, (choice indices in the kind's order), gating index), (input nodes))

with ops in list order 1..K and inputs sorted node numbers (0 is the cell input).  Only the
cells a search finally proposes become `Genotype` objects (`genotype`).

`canonical` renumbers the ops canonically and sets an unread key/value source to the first
one, so isomorphic cells get one light form and one code; it is cached by the light tuple
itself (tuples of ints hash cheaply and the same in every process).  The order is exact, not a
hash heuristic: ops are sorted by depth and by nested tuples describing what feeds them and
what they feed, and ties are broken by the smallest serialisation over the tied orderings.
The codes follow `CellEncoder`'s layout (one-hot per variable, multi-hot inputs, optional
bag-of-ops columns); every code the GP bandit compares comes from here.

`sample` and `mutate` draw exactly the cells `SearchSpace.sample` and `SearchSpace.mutate`
draw from the same generator state; `neighbours` are the cells one variable away.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from nas.controllers.encoding import CellEncoder
from nas.ops import OPS
from nas.space.genotype import Genotype
from nas.space.space import SearchSpace
from nas.space.variables import format_subset, parse_subset, same_value

Label = tuple[int, tuple[int, ...], int]
Op = tuple[Label, tuple[int, ...]]
Light = tuple[int, tuple[int, ...], tuple[Op, ...]]
PRE = ("channels", "height", "width", "frames")


class CodeBook:
    """Light cells of one space: conversion, canonical form, codes, sampling, neighbourhoods."""

    def __init__(self, space: SearchSpace, encoder: CellEncoder, capacity: int = 200_000) -> None:
        self.space, self.encoder, self.capacity = space, encoder, capacity
        self.kinds = [kc.kind for kc in space.kinds]
        self.kind_values = [[values for _, values in kc.choices] for kc in space.kinds]
        self.kind_names = [[name for name, _ in kc.choices] for kc in space.kinds]
        self.reads_kv = [OPS.get(kind).uses_kv_source for kind in self.kinds]
        self.pre_values = [space.channels, space.heights, space.widths, space.frames]
        self.subsets = {k: [tuple(parse_subset(s)) for s in space.input_subsets(k)] for k in range(1, space.num_ops + 1)}
        self._columns = self._column_tables()
        self._cache: dict[Light, tuple[Light, np.ndarray]] = {}

    # --- conversion ------------------------------------------------------------------------------
    def from_genotype(self, genotype: Genotype) -> Light:
        """The light form of a cell of this space (ops in its list order)."""
        params = self.space.to_params(genotype)
        kv = _index(self.space.kv_sources, params["kv_source"])
        pre = tuple(_index(values, params[f"preprocess.{n}"]) for values, n in zip(self.pre_values, PRE))
        ops = []
        for k in range(1, self.space.num_ops + 1):
            kind = self.kinds.index(params[f"op{k}.kind"])
            choices = tuple(_index(values, params[f"op{k}.{self.kinds[kind]}.{name}"])
                            for name, values in zip(self.kind_names[kind], self.kind_values[kind]))
            gating = _index(self.space.gating, params[f"op{k}.gating"])
            ops.append(((kind, choices, gating), tuple(parse_subset(params[f"op{k}.inputs"]))))
        return kv, pre, tuple(ops)

    def genotype(self, light: Light) -> Genotype:
        """The `Genotype` of a light cell."""
        kv, pre, ops = light
        params: dict[str, Any] = {"kv_source": self.space.kv_sources[kv]}
        params.update({f"preprocess.{n}": values[i] for n, values, i in zip(PRE, self.pre_values, pre)})
        for k, ((kind, choices, gating), inputs) in enumerate(ops, start=1):
            params[f"op{k}.kind"] = self.kinds[kind]
            for name, values, i in zip(self.kind_names[kind], self.kind_values[kind], choices):
                params[f"op{k}.{self.kinds[kind]}.{name}"] = values[i]
            params[f"op{k}.gating"] = self.space.gating[gating]
            params[f"op{k}.inputs"] = format_subset(inputs)
        return self.space.from_params(params)

    # --- canonical form and code -------------------------------------------------------------------
    def canonical(self, light: Light) -> tuple[Light, np.ndarray]:
        """(canonical light form, its code (width,)) of a light cell; cached."""
        found = self._cache.get(light)
        if found is None:
            if len(self._cache) >= self.capacity:
                self._cache.clear()
            canon = self._canonicalise(light)
            found = self._cache[light] = (canon, self._encode(canon))
        return found

    def _canonicalise(self, light: Light) -> Light:
        kv, pre, ops = light
        order = canonical_order(ops)
        position = {0: 0, **{old: new for new, old in enumerate(order, start=1)}}
        renumbered = tuple((ops[old - 1][0], tuple(sorted(position[s] for s in ops[old - 1][1]))) for old in order)
        if not any(self.reads_kv[label[0]] for label, _ in ops):
            kv = 0
        return kv, pre, renumbered

    def _column_tables(self) -> dict[str, Any]:
        """Code column of every (variable, value index); -1 where the variable has one choice."""
        enc = self.encoder
        start = {var.name: begin for var, (begin, _) in zip(enc.variables, enc.groups)}

        def columns(name: str, count: int) -> list[int]:
            return [start[name] + i if name in start else -1 for i in range(count)]

        tables: dict[str, Any] = {"kv": columns("kv_source", len(self.space.kv_sources)),
                                  "pre": [columns(f"preprocess.{n}", len(v)) for n, v in zip(PRE, self.pre_values)]}
        for k in range(1, self.space.num_ops + 1):
            tables[f"kind{k}"] = columns(f"op{k}.kind", len(self.kinds))
            tables[f"choices{k}"] = [[columns(f"op{k}.{kind}.{name}", len(values)) for name, values in zip(names, vals)]
                                     for kind, names, vals in zip(self.kinds, self.kind_names, self.kind_values)]
            tables[f"gating{k}"] = columns(f"op{k}.gating", len(self.space.gating))
            tables[f"inputs{k}"] = columns(f"op{k}.inputs", k) if len(self.subsets[k]) > 1 else [-1] * k
        tables["bag"] = {}
        for kind, kc in enumerate(self.space.kinds):
            for choices in itertools.product(*(range(len(v)) for v in self.kind_values[kind])):
                for gating, flag in enumerate(self.space.gating):
                    values = {n: vals[i] for n, vals, i in zip(self.kind_names[kind], self.kind_values[kind], choices)}
                    feats = enc.op_features(kc.kind, values, bool(flag))
                    tables["bag"][(kind, choices, gating)] = [enc.bag_column[f] for f in feats if f in enc.bag_column]
        return tables

    def _encode(self, light: Light) -> np.ndarray:
        kv, pre, ops = light
        t = self._columns
        code = np.zeros(self.encoder.width)
        hot = [t["kv"][kv]] + [t["pre"][i][v] for i, v in enumerate(pre)]
        for k, ((kind, choices, gating), inputs) in enumerate(ops, start=1):
            hot += [t[f"kind{k}"][kind], t[f"gating{k}"][gating]]
            hot += [t[f"choices{k}"][kind][i][v] for i, v in enumerate(choices)]
            hot += [t[f"inputs{k}"][s] for s in inputs]
            if self.encoder.bag_features:
                for column in t["bag"][(kind, choices, gating)]:
                    code[column] += 1.0 / len(ops)
        code[[c for c in hot if c >= 0]] = 1.0
        return code

    # --- drawing cells ---------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Light:
        """The cell `SearchSpace.sample(rng)` draws (same generator calls, same cell)."""
        kv = int(rng.integers(len(self.space.kv_sources)))
        pre = tuple(int(rng.integers(len(v))) for v in self.pre_values)
        ops = []
        for k in range(1, self.space.num_ops + 1):
            kind = int(rng.integers(len(self.kinds)))
            choices = tuple(int(rng.integers(len(v))) for v in self.kind_values[kind])  # only the active kind's
            gating = int(rng.integers(len(self.space.gating)))
            inputs = self.subsets[k][int(rng.integers(len(self.subsets[k])))]
            ops.append(((kind, choices, gating), inputs))
        return kv, pre, tuple(ops)

    def slots(self, light: Light) -> list[tuple[tuple, int, int]]:
        """(slot, current index, number of choices) of the cell's active variables, in the space's order."""
        kv, pre, ops = light
        out = [(("kv",), kv, len(self.space.kv_sources))]
        out += [(("pre", i), v, len(self.pre_values[i])) for i, v in enumerate(pre)]
        for k, ((kind, choices, gating), inputs) in enumerate(ops, start=1):
            out.append((("kind", k), kind, len(self.kinds)))
            out += [(("choice", k, i), v, len(self.kind_values[kind][i])) for i, v in enumerate(choices)]
            out.append((("gating", k), gating, len(self.space.gating)))
            out.append((("inputs", k), self.subsets[k].index(inputs), len(self.subsets[k])))
        return out

    def with_value(self, light: Light, slot: tuple, index: int, new_choices: tuple[int, ...] = ()) -> Light:
        """`light` with one variable set to choice `index` (a new kind takes `new_choices`)."""
        kv, pre, ops = light
        if slot[0] == "kv":
            return index, pre, ops
        if slot[0] == "pre":
            return kv, pre[: slot[1]] + (index,) + pre[slot[1] + 1:], ops
        k = slot[1]
        (kind, choices, gating), inputs = ops[k - 1]
        if slot[0] == "kind":
            op = ((index, new_choices, gating), inputs)
        elif slot[0] == "choice":
            op = ((kind, choices[: slot[2]] + (index,) + choices[slot[2] + 1:], gating), inputs)
        elif slot[0] == "gating":
            op = ((kind, choices, index), inputs)
        else:
            op = ((kind, choices, gating), self.subsets[k][index])
        return kv, pre, ops[: k - 1] + (op,) + ops[k:]

    def mutate(self, light: Light, rng: np.random.Generator, max_tries: int = 64) -> Light:
        """The cell `SearchSpace.mutate(genotype, rng)` returns (same generator calls, same cell)."""
        canon = self.canonical(light)[0]
        for _ in range(max_tries):
            candidates = [s for s in self.slots(light) if s[2] > 1]
            if not candidates:
                return light
            slot, current, count = candidates[int(rng.integers(len(candidates)))]
            others = [i for i in range(count) if i != current]
            index = others[int(rng.integers(len(others)))]
            drawn: tuple[int, ...] = ()
            if slot[0] == "kind":
                drawn = tuple(int(rng.integers(len(v))) for v in self.kind_values[index])
            child = self.with_value(light, slot, index, drawn)
            if self.canonical(child)[0] != canon:
                return child
        return light

    def neighbours(self, light: Light) -> list[Light]:
        """Every cell one variable away; a new kind keeps same-named choices where it allows them."""
        out = []
        for slot, current, count in self.slots(light):
            for index in range(count):
                if index == current:
                    continue
                kept: tuple[int, ...] = ()
                if slot[0] == "kind":
                    (kind, choices, _), _ = light[2][slot[1] - 1]
                    kept = self._kept_choices(kind, choices, index)
                out.append(self.with_value(light, slot, index, kept))
        return out

    def _kept_choices(self, kind: int, choices: tuple[int, ...], new_kind: int) -> tuple[int, ...]:
        old = {name: values[i] for name, values, i in zip(self.kind_names[kind], self.kind_values[kind], choices)}
        kept = []
        for name, values in zip(self.kind_names[new_kind], self.kind_values[new_kind]):
            match = [i for i, v in enumerate(values) if name in old and same_value(v, old[name])]
            kept.append(match[0] if match else 0)
        return tuple(kept)


def canonical_order(ops: tuple[Op, ...]) -> list[int]:
    """Op positions (1-based) in canonical order: by depth, then by what feeds and what reads each op."""
    up: dict[int, tuple] = {0: ()}
    depth = {0: 0}
    readers: dict[int, list[int]] = {k: [] for k in range(1, len(ops) + 1)}
    for k, (label, inputs) in enumerate(ops, start=1):
        up[k] = (label, tuple(sorted(up[s] for s in inputs)))
        depth[k] = 1 + max(depth[s] for s in inputs)
        for s in inputs:
            if s:
                readers[s].append(k)
    down: dict[int, tuple] = {}
    for k in range(len(ops), 0, -1):
        down[k] = (ops[k - 1][0], tuple(sorted(down[r] for r in readers[k])))
    rank = {k: (depth[k], up[k], down[k]) for k in range(1, len(ops) + 1)}
    ranked = sorted(rank, key=rank.__getitem__)
    groups = [list(g) for _, g in itertools.groupby(ranked, key=rank.__getitem__)]
    if all(len(g) == 1 for g in groups):
        return ranked
    best: tuple | None = None
    for choice in itertools.product(*(itertools.permutations(g) for g in groups)):
        order = [k for group in choice for k in group]
        position = {0: 0, **{old: new for new, old in enumerate(order, start=1)}}
        text = tuple((ops[old - 1][0], tuple(sorted(position[s] for s in ops[old - 1][1]))) for old in order)
        if best is None or text < best[0]:
            best = (text, order)
    assert best is not None
    return best[1]


def _index(values: tuple[Any, ...], value: Any) -> int:
    return next(i for i, v in enumerate(values) if same_value(v, value))
