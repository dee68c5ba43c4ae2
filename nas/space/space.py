"""The search-space DSL: a YAML file -> a validated `SearchSpace` of attention cells.

Schema ``attention-nas/space@1``::

    schema: attention-nas/space@1
    name: attentionnas_gpb
    description: free text
    cell:
      num_ops: 4                      # K operations per cell
      inputs_per_op: 1                # or {min: 1, max: 2}: op k reads min..max (at most k) of f_0..f_(k-1)
      kv_source: [op_input, cell_input]
    preprocess:                       # lists of candidate values (one value = fixed)
      channels: [0.25]                # C_reduction: integer (absolute) or fraction of C
      height: [7]                     # H_resize
      width: [7]                      # W_resize
      frames: [8]                     # T_group
    ops:
      gating: [false, true]           # channel gating after the op
      kinds:                          # op kinds by registry name, each with its choices
        dot_product: {dimension: [temporal, spatial, spatiotemporal],
                      activation: [none, relu, sigmoid, softmax]}
        map: {dimension: [temporal], activation: [sigmoid]}

A choice a kind declares but the file leaves out takes the kind's default.  Cells combine by
concatenating the outputs no other op reads; an op with n inputs weights each by 1/n.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator

import numpy as np

from nas.errors import UserError
from nas.io import load_yaml, short
from nas.space.genotype import KV_SOURCES, Combine, Genotype, OpInput, OpSpec, Preprocess
from nas.space.schema import Fields
from nas.space.variables import Variable, format_subset, parse_subset, same_value

SPACE_SCHEMA = "attention-nas/space@1"


@dataclass(frozen=True)
class KindChoices:
    """An op kind allowed in a space and the values each of its choices may take."""

    kind: str
    choices: tuple[tuple[str, tuple[Any, ...]], ...]  # (choice name, allowed values)


@dataclass(frozen=True)
class SearchSpace:
    """A validated space of attention cells (see the module docstring for the YAML form)."""

    name: str
    num_ops: int
    min_inputs: int
    max_inputs: int
    kv_sources: tuple[str, ...]
    channels: tuple[int | float, ...]
    heights: tuple[int, ...]
    widths: tuple[int, ...]
    frames: tuple[int, ...]
    gating: tuple[bool, ...]
    kinds: tuple[KindChoices, ...]
    description: str = ""

    # --- the flat parameterisation ----------------------------------------------------------
    def variables(self) -> list[Variable]:
        """The space's categorical variables, in an order where conditions come first."""
        return list(self._variables)

    @cached_property
    def _variables(self) -> tuple[Variable, ...]:
        out = [
            Variable("kv_source", self.kv_sources),
            Variable("preprocess.channels", self.channels),
            Variable("preprocess.height", self.heights),
            Variable("preprocess.width", self.widths),
            Variable("preprocess.frames", self.frames),
        ]
        for k in range(1, self.num_ops + 1):
            out.append(Variable(f"op{k}.kind", tuple(kc.kind for kc in self.kinds)))
            for kc in self.kinds:
                for name, values in kc.choices:
                    out.append(Variable(f"op{k}.{kc.kind}.{name}", values, active_if=(f"op{k}.kind", kc.kind)))
            out.append(Variable(f"op{k}.gating", self.gating))
            out.append(Variable(f"op{k}.inputs", self.input_subsets(k), sources=tuple(range(k))))
        return tuple(out)

    def input_subsets(self, k: int) -> tuple[str, ...]:
        """Allowed inputs of op k: subsets of {0..k-1} of min(min_inputs, k)..min(max_inputs, k) nodes."""
        sizes = range(min(self.min_inputs, k), min(self.max_inputs, k) + 1)
        return tuple(format_subset(c) for n in sizes for c in itertools.combinations(range(k), n))

    def from_params(self, params: dict[str, Any]) -> Genotype:
        """The genotype a full assignment of the active variables describes."""
        from nas.ops import OPS

        ops = []
        for k in range(1, self.num_ops + 1):
            kind = params[f"op{k}.kind"]
            names = [name for kc in self.kinds if kc.kind == kind for name, _ in kc.choices]
            sources = parse_subset(params[f"op{k}.inputs"])
            inputs = tuple(OpInput(s, 1.0 / len(sources)) for s in sources)
            choices = {name: params[f"op{k}.{kind}.{name}"] for name in names}
            choices = OPS.get(kind).stored(choices) if kind in OPS else choices  # optional defaults left out
            ops.append(OpSpec(k, kind, choices, inputs, bool(params[f"op{k}.gating"])))
        pre = Preprocess(*(params[f"preprocess.{n}"] for n in ("channels", "height", "width", "frames")))
        draft = Genotype(params["kv_source"], pre, tuple(ops), Combine("concat", (1,)))
        return Genotype(params["kv_source"], pre, tuple(ops), Combine("concat", draft.leaves()))

    def to_params(self, genotype: Genotype) -> dict[str, Any]:
        """The variable assignment of `genotype`; `UserError` if the cell is not in this space."""
        if len(genotype.ops) != self.num_ops:
            raise UserError(f"cell is not in space {short(self.name)}: it has {len(genotype.ops)} ops, the space {self.num_ops}")
        position = {0: 0, **{spec.id: i + 1 for i, spec in enumerate(genotype.ops)}}
        pre = genotype.preprocess
        params: dict[str, Any] = {"kv_source": genotype.kv_source}
        params.update({f"preprocess.{n}": getattr(pre, n) for n in ("channels", "height", "width", "frames")})
        for k, spec in enumerate(genotype.ops, start=1):
            params[f"op{k}.kind"] = spec.kind
            params.update({f"op{k}.{spec.kind}.{name}": value for name, value in self._all_choices(spec).items()})
            params[f"op{k}.gating"] = spec.gating
            params[f"op{k}.inputs"] = format_subset([position[e.source] for e in spec.inputs])
        self._check_params(params)
        if self.from_params(params) != _renumbered(genotype, position):
            raise UserError(f"cell is not in space {short(self.name)} (input weights or combination differ)")
        return params

    def _all_choices(self, spec: OpSpec) -> dict[str, Any]:
        """`spec`'s choices with the optional ones this space varies filled in at their default
        (a genotype leaves an optional choice at its default out, `nas.ops.registry.Choice`)."""
        from nas.ops import OPS  # space <- ops: the registry is imported when used

        varied = {name for kc in self.kinds if kc.kind == spec.kind for name, _ in kc.choices}
        if spec.kind not in OPS:
            return dict(spec.choices)
        full = OPS.get(spec.kind).complete(spec.choices)
        return {name: value for name, value in full.items() if name in spec.choices or name in varied}

    def _check_params(self, params: dict[str, Any]) -> None:
        variables = self.variables()
        for var in variables:
            if var.is_active(params):
                if var.name not in params:
                    raise UserError(f"cell is not in space {short(self.name)}: {var.name} is missing")
                try:
                    var.index(params[var.name])
                except ValueError as exc:
                    raise UserError(f"cell is not in space {short(self.name)}: {exc}") from None
        known = {var.name for var in variables}
        extra = sorted(set(params) - known)
        if extra:
            raise UserError(f"cell is not in space {short(self.name)}: {extra[0]} is not a variable of it")

    def contains(self, genotype: Genotype) -> bool:
        """Whether `genotype` is a cell of this space."""
        try:
            self.to_params(genotype)
        except UserError:
            return False
        return True

    # --- sampling and neighbourhoods -------------------------------------------------------------
    def sample(self, seed: int | np.random.Generator) -> Genotype:
        """A uniformly drawn assignment of the variables, as a genotype (same seed, same cell)."""
        rng = np.random.default_rng(seed)
        params: dict[str, Any] = {}
        for var in self.variables():
            if var.is_active(params):
                params[var.name] = var.choices[int(rng.integers(len(var.choices)))]
        return self.from_params(params)

    def mutate(self, genotype: Genotype, seed: int | np.random.Generator, max_tries: int = 64) -> Genotype:
        """A neighbour: one variable changed (a changed kind redraws that kind's choices).

        Tries to return a cell with another canonical key; returns `genotype` itself only when
        the space has no other cell.
        """
        rng = np.random.default_rng(seed)
        params = self.to_params(genotype)
        key = genotype.key()
        for _ in range(max_tries):
            candidates = [v for v in self.variables() if v.is_active(params) and len(v.choices) > 1]
            if not candidates:
                return genotype
            var = candidates[int(rng.integers(len(candidates)))]
            others = [c for c in var.choices if not same_value(c, params[var.name])]
            new = {**params, var.name: others[int(rng.integers(len(others)))]}
            for dep in self.variables():
                if dep.active_if and dep.active_if[0] == var.name and dep.is_active(new) and dep.name not in new:
                    new[dep.name] = dep.choices[int(rng.integers(len(dep.choices)))]
            new = {n: v for n, v in new.items() if self._variable(n).is_active(new)}
            child = self.from_params(new)
            if child.key() != key:
                return child
        return genotype

    def _variable(self, name: str) -> Variable:
        return next(v for v in self._variables if v.name == name)

    # --- numeric code for the GP --------------------------------------------------------------
    def encode(self, genotype: Genotype) -> np.ndarray:
        """A fixed-length 0/1 vector: one-hot per variable, multi-hot for inputs, zeros if inactive."""
        params = self.to_params(genotype)
        code: list[float] = []
        for var in self.variables():
            code.extend(var.encode(params.get(var.name) if var.is_active(params) else None))
        return np.asarray(code, dtype=np.float64)

    def decode(self, code: np.ndarray) -> Genotype:
        """Inverse of `encode`."""
        code = np.asarray(code, dtype=np.float64)
        if code.shape != (self.code_length(),):
            raise ValueError(f"code of shape {code.shape}, expected ({self.code_length()},)")
        params: dict[str, Any] = {}
        offset = 0
        for var in self.variables():
            block = list(code[offset : offset + var.width])
            offset += var.width
            if var.is_active(params):
                params[var.name] = var.decode(block)
        return self.from_params(params)

    def code_length(self) -> int:
        """Length of `encode`'s vectors."""
        return sum(v.width for v in self.variables())

    # --- counting and enumeration -------------------------------------------------------------
    def raw_size(self) -> int:
        """Number of distinct variable assignments (isomorphic cells counted separately)."""
        from nas.space.counting import raw_size

        return raw_size(self)

    def size(self) -> int:
        """Exact number of distinct cells: canonical keys, i.e. up to renumbering of ops."""
        from nas.space.counting import distinct_size

        return distinct_size(self)

    def enumerate(self, limit: int = 200_000) -> list[Genotype]:
        """One genotype per distinct cell (by canonical key); only for spaces of at most `limit` assignments."""
        if self.raw_size() > limit:
            raise UserError(f"space {short(self.name)} has {self.raw_size()} assignments, more than the limit {limit}")
        seen: dict[str, Genotype] = {}
        for params in self.assignments():
            genotype = self.from_params(params)
            seen.setdefault(genotype.key(), genotype)
        return list(seen.values())

    def assignments(self) -> Iterator[dict[str, Any]]:
        """Every full assignment of the active variables."""

        def walk(index: int, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
            if index == len(variables):
                yield dict(params)
                return
            var = variables[index]
            if not var.is_active(params):
                yield from walk(index + 1, params)
                return
            for choice in var.choices:
                params[var.name] = choice
                yield from walk(index + 1, params)
                del params[var.name]

        variables = self.variables()
        yield from walk(0, {})


def _renumbered(genotype: Genotype, position: dict[int, int]) -> Genotype:
    """`genotype` with op ids replaced by their 1-based list positions."""
    from dataclasses import replace

    ops = tuple(
        replace(
            spec,
            id=position[spec.id],
            inputs=tuple(sorted((OpInput(position[e.source], e.weight) for e in spec.inputs), key=lambda e: e.source)),
        )
        for spec in genotype.ops
    )
    combine = replace(genotype.combine, outputs=tuple(sorted(position[o] for o in genotype.combine.outputs)))
    return replace(genotype, ops=ops, combine=combine)


def load_space(path: str) -> SearchSpace:
    """Read and validate a search-space YAML file (bad input raises a one-line `UserError`)."""
    from nas.space.dsl import parse_space

    return parse_space(load_yaml(path, "search space"), source=str(path))
