"""The op registry: every attention operation kind, its choices, and how to build it.

One table serves the fixed cell (`nas.cell`), the supergraph (`nas.supergraph`), the search
space DSL (which validates kinds and choices against it) and FLOPs counting.  An op kind
declares the choices it exposes (with allowed values and a default), whether it reads the
cell-level key/value source, and a factory ``OpConfig -> nn.Module``.

Every op module has the signature ``forward(x, cell_input) -> y`` with x, cell_input and y of
the same shape (B, C, T, H, W): B is the batch times the number of temporal groups, and
C, T, H, W are the cell's fixed pre-processed sizes (`FeatureShape`), except that T may be
smaller than T_group (a map shorter than T_group is not padded, `nas.cell.group_frames`):
an op is built for T_group frames and must accept any T from 1 to T_group.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from nas.errors import UserError
from nas.io import short
from nas.registry import Registry
from nas.space.genotype import ChoiceValue, OpSpec
from nas.space.variables import same_value

if TYPE_CHECKING:  # the registry itself never needs torch: an op's module loads when it is built
    from torch import nn


@dataclass(frozen=True)
class FeatureShape:
    """The fixed shape an op sees after the cell's pre-processing (batch excluded)."""

    channels: int  # C_reduction
    frames: int  # T_group
    height: int  # H_resize
    width: int  # W_resize


@dataclass(frozen=True)
class Choice:
    """One choice an op kind exposes to the DSL.

    `values` lists the accepted values; for an open numeric range leave it empty and give
    `check`, which returns an error message for a bad value or None.

    `optional` marks an option added after genotypes were written (the reference-exact
    variants of an operator): a genotype stores it only when it differs from the default and
    a search space varies it only when it names it, so cells, search spaces and their
    canonical keys from before the option existed are unchanged.  The op's module always
    receives it (`OpKind.complete`).
    """

    name: str
    default: ChoiceValue
    values: tuple[ChoiceValue, ...] = ()
    check: Callable[[Any], str | None] | None = None
    doc: str = ""
    optional: bool = False

    def problem(self, value: Any) -> str | None:
        """Why `value` is not acceptable, or None when it is."""
        if self.values:
            if any(same_value(value, v) for v in self.values):
                return None
            return f"must be one of {', '.join(map(repr, self.values))}, got {short(value)}"
        if self.check is not None:
            return self.check(value)
        return None


@dataclass(frozen=True)
class OpConfig:
    """What an op factory receives."""

    shape: FeatureShape
    choices: Mapping[str, ChoiceValue]
    kv_source: str  # "op_input" | "cell_input": where dot-product keys and values come from


@dataclass(frozen=True)
class OpKind:
    """A registered operation kind."""

    name: str
    factory: Callable[[OpConfig], nn.Module] | str  # or "module:attribute", imported on first use
    choices: tuple[Choice, ...] = ()
    uses_kv_source: bool = False
    summary: str = ""
    choice_by_name: dict[str, Choice] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "choice_by_name", {c.name: c for c in self.choices})

    def complete(self, choices: Mapping[str, ChoiceValue]) -> dict[str, ChoiceValue]:
        """`choices` with every choice present: optional ones left out take their default."""
        return {c.name: choices.get(c.name, c.default) for c in self.choices}

    def stored(self, choices: Mapping[str, ChoiceValue]) -> dict[str, ChoiceValue]:
        """`choices` as a genotype stores them: optional choices at their default left out."""
        return {
            name: value for name, value in choices.items()
            if not ((c := self.choice_by_name.get(name)) and c.optional and same_value(value, c.default))
        }

    def make(self, config: OpConfig) -> nn.Module:
        """Build the op's module (importing its module the first time when the factory is a path)."""
        return self.resolve()(config)

    def resolve(self) -> Callable[[OpConfig], nn.Module]:
        """The factory itself (a declared "module:attribute" path is imported)."""
        if callable(self.factory):
            return self.factory
        module, _, attribute = self.factory.partition(":")
        return getattr(importlib.import_module(module), attribute)


class OpRegistry(Registry[OpKind]):
    """The registry of op kinds (duplicate names are refused)."""

    def __init__(self) -> None:
        super().__init__("op kind")

    def declare(self, name: str, factory: str, *, choices: tuple[Choice, ...] = (), uses_kv_source: bool = False,
                summary: str = "") -> None:
        """Register kind `name` whose module is built by `factory`, a "module:attribute" path imported
        only when the op is first built (the built-in kinds, `nas.ops.catalog`)."""
        self.add(name, OpKind(name, factory, choices, uses_kv_source, summary))

    def op(
        self, name: str, *, choices: tuple[Choice, ...] = (), uses_kv_source: bool = False, summary: str = ""
    ) -> Callable[[Callable[[OpConfig], nn.Module]], Callable[[OpConfig], nn.Module]]:
        """Class decorator: register an `nn.Module` class taking an `OpConfig` as kind `name` (a kind
        added from outside the package, e.g. a user's op; the built-in kinds are declared)."""

        def register(factory: Callable[[OpConfig], nn.Module]) -> Callable[[OpConfig], nn.Module]:
            self.add(name, OpKind(name, factory, choices, uses_kv_source, summary or (factory.__doc__ or "").split("\n")[0]))
            return factory

        return register

    def resolve_choices(self, kind: str, choices: Mapping[str, Any], where: str = "op") -> dict[str, ChoiceValue]:
        """Check `choices` against kind `kind` and fill in defaults; errors name `where`.

        The result is the stored form: an optional choice appears only when it is not its default."""
        if kind not in self:
            raise UserError(f"{where}.kind: unknown op kind {short(kind)} (known: {', '.join(sorted(self))})")
        entry = self.get(kind)
        resolved: dict[str, ChoiceValue] = {}
        for name, value in choices.items():
            choice = entry.choice_by_name.get(name)
            if choice is None:
                known = ", ".join(entry.choice_by_name) or "none"
                raise UserError(f"{where}.choices.{name}: op kind {short(kind)} has no such choice (choices: {known})")
            problem = choice.problem(value)
            if problem:
                raise UserError(f"{where}.choices.{name}: {problem}")
            resolved[name] = value
        for choice in entry.choices:
            if not choice.optional:
                resolved.setdefault(choice.name, choice.default)
        return entry.stored({c.name: resolved[c.name] for c in entry.choices if c.name in resolved})

    def build(self, spec: OpSpec, shape: FeatureShape, kv_source: str) -> nn.Module:
        """The module for `spec` at `shape`, wrapped in channel gating when `spec.gating`."""
        entry = self.get(spec.kind)
        choices = entry.complete(self.resolve_choices(spec.kind, spec.choices, where=f"op {spec.id}"))
        module = entry.make(OpConfig(shape, choices, kv_source))
        if spec.gating:
            from nas.ops.gating import Gated

            module = Gated(module, shape.channels)
        return module


OPS = OpRegistry()
"""The op registry.  Import `nas.ops` (not this module) to get it with every op registered."""
