"""Genotypes: an attention cell (and a whole model's cells) as plain, validated data.

A cell genotype names the cell-level key/value source, the pre-processing sizes, an ordered
list of operations and how their outputs are combined.  Operations are listed in
topological order; node 0 is the (pre-processed) cell input f_0 and every operation has a
positive integer id, so ``inputs`` refer to ``0`` or to the id of an earlier operation.

JSON schema ``attention-nas/genotype@1``::

    {"schema": "attention-nas/genotype@1",
     "kv_source": "cell_input",                       # or "op_input"
     "preprocess": {"channels": 0.25, "height": 7, "width": 7, "frames": 8},
     "ops": [{"id": 1, "kind": "dot_product",
              "choices": {"dimension": "temporal", "activation": "softmax"},
              "gating": false, "inputs": [{"from": 0, "weight": 1.0}]}, ...],
     "combine": {"mode": "concat", "outputs": [3, 4], "weights": null},
     "meta": {}}                                      # free-form, not part of the cell

``preprocess.channels`` is C_reduction: an integer is an absolute channel count, a number in
(0, 1) a fraction of the cell's input channels.  Optional ``preprocess.pad_short_maps``
(default true) says whether a feature map shorter than T_group frames is zero-padded to
T_group (true) or left at its own length (false; see `nas.cell`).  ``combine.mode`` is ``concat`` (the
AttentionNAS rule: concatenate the outputs no other op reads) or ``sum`` (supergraph-derived
cells: the outputs weighted by ``weights``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Mapping

from nas.errors import UserError
from nas.io import load_json, parse_json, short
from nas.space.schema import Fields

GENOTYPE_SCHEMA = "attention-nas/genotype@1"
MODEL_SCHEMA = "attention-nas/model-genotype@1"
KV_SOURCES = ("op_input", "cell_input")
COMBINE_MODES = ("concat", "sum")
EVERYWHERE = "*"  # model-genotype position meaning "every insertion point of the backbone"

ChoiceValue = str | int | float | bool


@dataclass(frozen=True)
class OpInput:
    """One input edge of an operation: the node it reads and the weight of that node."""

    source: int  # 0 = cell input f_0, otherwise the id of an earlier operation
    weight: float = 1.0


@dataclass(frozen=True)
class OpSpec:
    """One attention operation: its registry kind, that kind's choices, gating and inputs."""

    id: int
    kind: str
    choices: Mapping[str, ChoiceValue]
    inputs: tuple[OpInput, ...]
    gating: bool = False

    def label(self) -> str:
        """A string naming everything about the op except its id and inputs."""
        return json.dumps([self.kind, sorted(self.choices.items()), self.gating])


@dataclass(frozen=True)
class Preprocess:
    """Cell pre-processing sizes: C_reduction, H_resize, W_resize and T_group."""

    channels: int | float  # int: absolute C_reduction; float in (0, 1): fraction of C
    height: int
    width: int
    frames: int
    # False: a map shorter than T_group is one group of its own frames, not zero-padded
    # (`nas.cell.group_frames`); True (the default, and what a file without the key means):
    # padded, as every cell before this option was, so committed results keep their meaning
    pad_short_maps: bool = True

    def reduced_channels(self, in_channels: int) -> int:
        """C_reduction for a cell whose input has `in_channels` channels (never above it)."""
        if isinstance(self.channels, float):
            return max(1, int(round(self.channels * in_channels)))
        return max(1, min(int(self.channels), in_channels))


@dataclass(frozen=True)
class Combine:
    """How the cell merges operation outputs before the final 1x1x1 convolution."""

    mode: str  # "concat" | "sum"
    outputs: tuple[int, ...]
    weights: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Genotype:
    """An attention cell as data.  Build it with `nas.cell.AttentionCell(genotype, channels)`."""

    kind: ClassVar[str] = "cell"  # what `read_genotype` found; a `ModelGenotype` says "model"
    kv_source: str
    preprocess: Preprocess
    ops: tuple[OpSpec, ...]
    combine: Combine
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)

    # --- structure -------------------------------------------------------------------------
    def op(self, op_id: int) -> OpSpec:
        """The operation with id `op_id`."""
        for spec in self.ops:
            if spec.id == op_id:
                return spec
        raise KeyError(op_id)

    def readers(self) -> dict[int, list[int]]:
        """For every node (0 and each op id) the ids of the ops that read it."""
        readers: dict[int, list[int]] = {0: [], **{spec.id: [] for spec in self.ops}}
        for spec in self.ops:
            for edge in spec.inputs:
                readers[edge.source].append(spec.id)
        return readers

    def leaves(self) -> tuple[int, ...]:
        """Ids of the operations no other operation reads, in list order."""
        readers = self.readers()
        return tuple(spec.id for spec in self.ops if not readers[spec.id])

    def key(self) -> str:
        """Canonical key: equal for cells that are the same DAG up to renumbering."""
        from nas.space.canonical import canonical_key

        return canonical_key(self)

    def with_meta(self, **meta: Any) -> "Genotype":
        """A copy with `meta` merged into the free-form metadata."""
        return replace(self, meta={**self.meta, **meta})

    # --- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict of schema ``attention-nas/genotype@1``."""
        return {
            "schema": GENOTYPE_SCHEMA,
            "kv_source": self.kv_source,
            "preprocess": {
                "channels": self.preprocess.channels,
                "height": self.preprocess.height,
                "width": self.preprocess.width,
                "frames": self.preprocess.frames,
                **({} if self.preprocess.pad_short_maps else {"pad_short_maps": False}),
            },
            "ops": [
                {
                    "id": spec.id,
                    "kind": spec.kind,
                    "choices": dict(spec.choices),
                    "gating": spec.gating,
                    "inputs": [{"from": e.source, "weight": e.weight} for e in spec.inputs],
                }
                for spec in self.ops
            ],
            "combine": {
                "mode": self.combine.mode,
                "outputs": list(self.combine.outputs),
                "weights": None if self.combine.weights is None else list(self.combine.weights),
            },
            "meta": dict(self.meta),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The genotype as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, data: str | Mapping[str, Any], source: str = "genotype", check_ops: bool = True) -> "Genotype":
        """Parse and validate a genotype from JSON text or a dict; errors name the bad field.

        With `check_ops`, op kinds and their choices are checked against the op registry.
        """
        if isinstance(data, str):
            data = parse_json(data, source)
        from nas.space.validate import parse_genotype

        return parse_genotype(Fields(data, "", source), check_ops=check_ops)


@dataclass(frozen=True)
class ModelGenotype:
    """Cells for a whole network: insertion position -> cell genotype.

    The position ``"*"`` means every insertion point of the backbone (a position-agnostic
    cell, as the GP bandit finds); otherwise one cell per named position (position-specific,
    as the supergraph derives).
    """

    cells: Mapping[str, Genotype]
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)
    kind: ClassVar[str] = "model"  # what `read_genotype` found; a `Genotype` says "cell"

    @classmethod
    def everywhere(cls, cell: Genotype, **meta: Any) -> "ModelGenotype":
        """One cell at every insertion point."""
        return cls({EVERYWHERE: cell}, meta)

    def resolve(self, positions: list[str]) -> dict[str, Genotype]:
        """The cell for each of the backbone's `positions` that has one, in backbone order."""
        if EVERYWHERE in self.cells:
            return {position: self.cells[EVERYWHERE] for position in positions}
        unknown = [p for p in self.cells if p not in positions]
        if unknown:
            raise UserError(
                f"model genotype names insertion position {short(unknown[0])}, "
                f"which this backbone does not have (it has: {', '.join(positions)})"
            )
        return {p: self.cells[p] for p in positions if p in self.cells}

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict of schema ``attention-nas/model-genotype@1``."""
        cells = {}
        for position, cell in self.cells.items():
            body = cell.to_dict()
            body.pop("schema")
            cells[position] = body
        return {"schema": MODEL_SCHEMA, "cells": cells, "meta": dict(self.meta)}

    def to_json(self, indent: int | None = 2) -> str:
        """The model genotype as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, data: str | Mapping[str, Any], source: str = "model genotype") -> "ModelGenotype":
        """Parse a model genotype; a plain cell genotype is accepted as a cell everywhere."""
        if isinstance(data, str):
            data = parse_json(data, source)
        from nas.space.validate import parse_model_genotype

        return parse_model_genotype(Fields(data, "", source))


GenotypeSource = str | os.PathLike | Mapping[str, Any]
"""Where a genotype comes from: a file path, JSON text (a string starting with ``{`` or ``[``) or a parsed dict."""


def read_genotype(source: GenotypeSource) -> Genotype | ModelGenotype:
    """The one genotype reader: a cell genotype or a model genotype, from a path, JSON text or a dict.

    The result says which it got by its type and by ``.kind`` (``"cell"`` or ``"model"``); a
    document of neither schema is one `UserError` naming the source.
    """
    document, name = _document(source)
    from nas.space.validate import parse_genotype, parse_model_genotype

    doc = Fields(document, "", name)
    schema = doc.get("schema", str, None)
    if schema == GENOTYPE_SCHEMA:
        return parse_genotype(doc)
    if schema == MODEL_SCHEMA:
        return parse_model_genotype(doc)
    raise doc.fail("schema", f"neither a cell genotype ({GENOTYPE_SCHEMA!r}) nor a model genotype "
                             f"({MODEL_SCHEMA!r}): got {short(schema)}")


def _is_json_text(source: GenotypeSource) -> bool:
    """Whether `source` is JSON text rather than a file path."""
    return isinstance(source, str) and source.lstrip().startswith(("{", "["))


def _document(source: GenotypeSource) -> tuple[Any, str]:
    """The parsed document of `source` and the name its errors give it."""
    if isinstance(source, Mapping):
        return source, "genotype"
    if _is_json_text(source):
        return parse_json(source, "genotype JSON"), "genotype JSON"
    if isinstance(source, (str, os.PathLike)):
        return load_json(source, "genotype file"), str(Path(source))
    raise UserError(f"a genotype is a file path, JSON text or a dict, not {type(source).__name__}")


def as_model_genotype(genotype: Genotype | ModelGenotype) -> ModelGenotype:
    """A model genotype as it is; a cell genotype as that cell at every insertion point."""
    return ModelGenotype.everywhere(genotype) if isinstance(genotype, Genotype) else genotype


def load_genotype(path: GenotypeSource) -> Genotype:
    """Read one cell: a cell genotype, or a model genotype with one cell for every position (``"*"``,
    what `nas search gpb` writes as best_genotype.json); other model genotypes are a `UserError`."""
    genotype = read_genotype(path)
    if isinstance(genotype, Genotype):
        return genotype
    if set(genotype.cells) == {EVERYWHERE}:
        return genotype.cells[EVERYWHERE]
    name = "genotype" if isinstance(path, Mapping) or _is_json_text(path) else str(path)
    raise UserError(f"{name}: a model genotype with a cell per position ({', '.join(genotype.cells)}), "
                    "not one cell: read it with read_genotype or load_model_genotype")


def load_model_genotype(path: GenotypeSource) -> ModelGenotype:
    """Read a model genotype (or a single cell genotype, meaning that cell everywhere)."""
    return as_model_genotype(read_genotype(path))
