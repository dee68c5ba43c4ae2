"""Parsing and validation of search-space documents (format in `nas.space.space`)."""

from __future__ import annotations

from typing import Any

from nas.io import short
from nas.space.genotype import KV_SOURCES
from nas.space.limits import MAX_CHOICES, MAX_OPS
from nas.space.schema import Fields
from nas.space.space import SPACE_SCHEMA, KindChoices, SearchSpace
from nas.space.variables import same_value
from nas.space.validate import preprocess_problem


def parse_space(data: Any, source: str = "search space") -> SearchSpace:
    """A validated `SearchSpace` from a parsed YAML document; errors name the bad field."""
    doc = Fields(data, "", source).only(("schema", "name", "description", "cell", "preprocess", "ops"))
    doc.schema(SPACE_SCHEMA)
    name = doc.get("name", str)
    cell = doc.sub("cell").only(("num_ops", "inputs_per_op", "kv_source"))
    num_ops = cell.get("num_ops", int)
    if not 1 <= num_ops <= MAX_OPS:
        raise cell.fail("num_ops", f"must be in 1 .. {MAX_OPS}, got {num_ops}")
    min_inputs, max_inputs = _inputs_per_op(cell)
    kv_sources = _choice_list(cell, "kv_source", str)
    for i, kv in enumerate(kv_sources):
        if kv not in KV_SOURCES:
            raise cell.fail(f"kv_source[{i}]", f"must be one of {', '.join(KV_SOURCES)}, got {short(kv)}")
    pre = doc.sub("preprocess").only(("channels", "height", "width", "frames"))
    lists = {n: _choice_list(pre, n, float if n == "channels" else int) for n in ("channels", "height", "width", "frames")}
    for size, values in lists.items():
        for i, value in enumerate(values):
            problem = preprocess_problem(size, value)
            if problem:
                raise pre.fail(f"{size}[{i}]", problem)
    ops = doc.sub("ops").only(("gating", "kinds"))
    gating = _choice_list(ops, "gating", bool)
    kinds = _kinds(ops.sub("kinds"))
    return SearchSpace(
        name=name,
        num_ops=num_ops,
        min_inputs=min_inputs,
        max_inputs=max_inputs,
        kv_sources=tuple(kv_sources),
        channels=tuple(lists["channels"]),
        heights=tuple(lists["height"]),
        widths=tuple(lists["width"]),
        frames=tuple(lists["frames"]),
        gating=tuple(gating),
        kinds=kinds,
        description=str(doc.get("description", str, "")),
    )


def _inputs_per_op(cell: Fields) -> tuple[int, int]:
    if not cell.has("inputs_per_op"):
        raise cell.fail("inputs_per_op", "missing required key")
    value = cell.data["inputs_per_op"]
    if isinstance(value, int) and not isinstance(value, bool):
        low = high = value
    else:
        rng = cell.sub("inputs_per_op").only(("min", "max"))
        low, high = rng.get("min", int, 1), rng.get("max", int)
    if low < 1 or high < low:
        raise cell.fail("inputs_per_op", f"need 1 <= min <= max, got min={low} max={high}")
    return low, high


def _choice_list(doc: Fields, key: str, kind: type) -> list[Any]:
    """A non-empty list of distinct values of `kind` (a single value is a one-item list)."""
    value = doc.data.get(key, ...)
    if value is ...:
        raise doc.fail(key, "missing required key")
    values = value if isinstance(value, list) else [value]
    if not values:
        raise doc.fail(key, "the list of choices is empty")
    if len(values) > MAX_CHOICES:
        raise doc.fail(key, f"at most {MAX_CHOICES} choices, got {len(values)}")
    for i, item in enumerate(values):
        Fields({key: item}, doc.path, doc.source).get(key, kind)
        if any(same_value(item, other) for other in values[:i]):
            raise doc.fail(f"{key}[{i}]", f"duplicate choice {short(item)}")
    return values


def _kinds(doc: Fields) -> tuple[KindChoices, ...]:
    """Op kinds (validated against the op registry) with their allowed choice values."""
    from nas.errors import UserError
    from nas.ops import OPS

    if not doc.data:
        raise doc.fail(None, "the list of op kinds is empty")
    kinds = []
    for kind in doc.data:
        if kind not in OPS:
            raise doc.fail(str(kind), f"unknown op kind {short(kind)} (known: {', '.join(sorted(OPS))})")
        entry = OPS.get(kind)
        body = doc.sub(kind, {}) if doc.data[kind] is None else doc.sub(kind)
        body.only(entry.choice_by_name)
        choices = []
        for choice in entry.choices:
            if choice.optional and not body.has(choice.name):
                continue  # a reference variant: varied only when the space names it
            values = _choice_list(body, choice.name, object) if body.has(choice.name) else [choice.default]
            for i, value in enumerate(values):
                problem = choice.problem(value)
                if problem:
                    raise UserError(f"{doc.source}: {body.where(choice.name)}[{i}]: {problem}")
            choices.append((choice.name, tuple(values)))
        kinds.append(KindChoices(kind, tuple(choices)))
    return tuple(kinds)
