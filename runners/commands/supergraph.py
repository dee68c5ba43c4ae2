"""`nas supergraph validate`: check a supergraph YAML file."""

from __future__ import annotations

import argparse

from nas.supergraph import load_supergraph


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas supergraph ...`."""
    supergraph = commands.add_parser("supergraph", help="work with supergraph YAML files")
    verbs = supergraph.add_subparsers(dest="verb", metavar="VERB", required=True, parser_class=type(supergraph))
    validate = verbs.add_parser("validate", help="check a supergraph; exit 2 with one line if it is invalid")
    validate.add_argument("supergraph", help="supergraph YAML file")
    validate.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    """Print a one-line summary of a valid supergraph."""
    graph = load_supergraph(args.supergraph)
    per_level = [sum(1 for n in graph.nodes if n.level == level) for level in range(graph.num_levels)]
    print(f"ok: {graph.name}: {graph.num_levels} levels of {'/'.join(map(str, per_level))} nodes, keys/values from {graph.kv_source}")
    return 0
