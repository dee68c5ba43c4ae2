"""`nas search ...`: architecture searches."""

from __future__ import annotations

import argparse

from runners.search_diff import add_diff_parser


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas search diff`."""
    search = commands.add_parser("search", help="search for attention cells")
    verbs = search.add_subparsers(dest="verb", metavar="VERB", required=True, parser_class=type(search))
    add_diff_parser(verbs)
