"""`nas genotype validate|key`: check a genotype JSON file."""

from __future__ import annotations

import argparse

from nas.errors import UserError
from nas.space import load_model_genotype, load_space


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas genotype ...`."""
    genotype = commands.add_parser("genotype", help="work with genotype JSON files")
    verbs = genotype.add_subparsers(dest="verb", metavar="VERB", required=True, parser_class=type(genotype))
    validate = verbs.add_parser("validate", help="check a cell or model genotype; exit 2 with one line if invalid")
    validate.add_argument("genotype", help="genotype JSON file")
    validate.add_argument("--space", help="also check that every cell belongs to this search space")
    validate.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    """Print one line per cell: position, op count and canonical key."""
    model = load_model_genotype(args.genotype)
    space = load_space(args.space) if args.space else None
    for position, cell in model.cells.items():
        if space is not None:
            space.to_params(cell)  # raises UserError naming why the cell is not in the space
        where = "every position" if position == "*" else f"position {position}"
        suffix = f", in space {space.name}" if space is not None else ""
        print(f"ok: {where}: {len(cell.ops)} ops, key {cell.key()}{suffix}")
    if not model.cells:
        raise UserError("the genotype has no cells")
    return 0
