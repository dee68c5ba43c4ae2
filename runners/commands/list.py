"""`nas list ops|backbones|objectives|controllers`: what each registry holds, with its choices.

Read from the registries themselves, so the list is always what the code accepts: an op kind
with every choice (its values or range, its default, one line of doc), a backbone with its
insertion points, an objective or controller with its options and their defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from typing import Any, Callable

WHAT = ("ops", "backbones", "objectives", "controllers")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas list`."""
    parser = commands.add_parser("list", help="print the op kinds, backbones, objectives or controllers, "
                                              "with their choices and defaults")
    parser.add_argument("what", choices=WHAT, help="which registry to print")
    parser.set_defaults(handler=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Print one block per registered name."""
    lines = {"ops": op_lines, "backbones": backbone_lines, "objectives": objective_lines,
             "controllers": controller_lines}[args.what]()
    print("\n".join(lines))
    return 0


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def op_lines() -> list[str]:
    """Each op kind, its doc line and its choices (values, default, doc)."""
    from nas.ops import OPS

    out = []
    for name in OPS.names():
        entry = OPS.get(name)
        out.append(f"{name}: {_first_line(entry.summary) or _first_line(entry.resolve().__doc__)}")
        for choice in entry.choices:
            values = " | ".join(map(str, choice.values)) if choice.values else "a number (checked)"
            default = f"default {choice.default}" + (", optional" if choice.optional else "")
            out.append(f"    {choice.name}: {values} ({default}){f'  - {choice.doc}' if choice.doc else ''}")
    return out


def backbone_lines() -> list[str]:
    """Each backbone, its doc line, insertion points and options."""
    from nas.backbones import BACKBONES

    out = []
    for name in BACKBONES.names():
        factory = BACKBONES.get(name)
        points = ", ".join(factory(num_classes=2).insertion_points)
        out.append(f"{name}: {_first_line(factory.__doc__)}")
        out.append(f"    insertion points: {points}")
        out += _parameter_lines(factory, skip=("num_classes",))
    return out


def objective_lines() -> list[str]:
    """Each objective, its doc line and its options with defaults."""
    from nas.objectives import OBJECTIVES

    out = []
    for name in OBJECTIVES.names():
        cls = OBJECTIVES.get(name)
        out.append(f"{name}: {_first_line(cls.__doc__)}")
        fields = dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ()
        out += [f"    {f.name} (default {_default(f)})" for f in fields]
    return out


def controller_lines() -> list[str]:
    """Each controller, its doc line and its options with defaults."""
    from nas.controllers import CONTROLLERS

    out = []
    for name in CONTROLLERS.names():
        cls = CONTROLLERS.get(name)
        out.append(f"{name}: {_first_line(cls.__doc__)}")
        out += _parameter_lines(cls.__init__, skip=("self", "space", "seed"))
    return out


def _parameter_lines(function: Callable[..., Any], skip: tuple[str, ...]) -> list[str]:
    params = [p for p in inspect.signature(function).parameters.values() if p.name not in skip]
    return [f"    {p.name} (default {p.default})" for p in params if p.default is not inspect.Parameter.empty]


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return "required"
