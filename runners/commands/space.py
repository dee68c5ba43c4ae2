"""`nas space validate|sample|size`: check, sample and count a search space."""

from __future__ import annotations

import argparse

from nas.io import atomic_write_text
from nas.space import load_space
from runners.arg_types import SEED


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas space ...`."""
    space = commands.add_parser("space", help="work with a search-space YAML file")
    verbs = space.add_subparsers(dest="verb", metavar="VERB", required=True, parser_class=type(space))

    validate = verbs.add_parser("validate", help="check a search space; exit 2 with one line if it is invalid")
    validate.add_argument("space", help="search space YAML file")
    validate.set_defaults(handler=run_validate)

    sample = verbs.add_parser("sample", help="sample a cell genotype from a search space")
    sample.add_argument("space", help="search space YAML file")
    sample.add_argument("--seed", type=SEED, default=0, help="random seed (same seed, same cell)")
    sample.add_argument("-o", "--output", help="write the genotype JSON here (default: stdout)")
    sample.set_defaults(handler=run_sample)

    size = verbs.add_parser("size", help="print the exact number of distinct cells")
    size.add_argument("space", help="search space YAML file")
    size.add_argument("--raw", action="store_true", help="count variable assignments instead (isomorphic cells apart)")
    size.set_defaults(handler=run_size)


def run_validate(args: argparse.Namespace) -> int:
    """Print a one-line summary of a valid space."""
    space = load_space(args.space)
    kinds = ", ".join(kc.kind for kc in space.kinds)
    print(f"ok: {space.name}: {space.num_ops} ops, kinds {kinds}, {space.size()} distinct cells")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    """Sample a genotype and print or write it."""
    genotype = load_space(args.space).sample(args.seed)
    text = genotype.with_meta(space=args.space, seed=args.seed).to_json() + "\n"
    if args.output:
        atomic_write_text(args.output, text)
        print(f"wrote {args.output} (key {genotype.key()})")
    else:
        print(text, end="")
    return 0


def run_size(args: argparse.Namespace) -> int:
    """Print the number of distinct cells (or of raw assignments)."""
    space = load_space(args.space)
    print(space.raw_size() if args.raw else space.size())
    return 0
