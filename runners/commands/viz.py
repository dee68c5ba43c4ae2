"""`nas viz`: cell diagrams of a genotype, and plots of a run folder.

``nas viz G.json -o cell.png|cell.svg`` draws a cell genotype, or a model genotype with one
panel per insertion position; ``--format dot`` writes Graphviz text instead (render it with
``dot -Tpng``; no Graphviz is needed here).  ``nas viz --run RUN -o weights.png`` plots a run
folder: for a GP-bandit search, the value per trial with the best so far (``--plot trials``) or
the value against GFLOPs with the Pareto front (``--plot pareto``); for a supergraph search
(``nas search diff``), every position's sink, connection and gating weights per epoch.
``--plot best`` with ``--run`` repeated draws the best value so far of several GP-bandit
searches in one figure (controllers or seeds side by side); the run figures are
`runners.engine.run_figures`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nas.errors import UserError
from nas.io import atomic_write_text
from nas.space import load_model_genotype
from nas.viz import cell_figure, image_format, model_graphs, save_figure, to_dot
from runners.engine.run_figures import best_runs_figure, run_figure


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas viz`."""
    parser = commands.add_parser("viz", help="draw cell diagrams (PNG, SVG, Graphviz) and plot run folders")
    parser.add_argument("genotype", nargs="?", help="cell or model genotype JSON to draw")
    parser.add_argument("--run", metavar="RUN", action="append",
                        help="plot this run folder instead (a GP-bandit or supergraph search); repeat it with "
                             "--plot best to put several GP-bandit searches side by side")
    parser.add_argument("--plot", choices=("trials", "pareto", "best"), default="trials",
                        help="for a GP-bandit run: value per trial (trials), value against GFLOPs (pareto), or "
                             "the best value so far of one or more runs (best)")
    parser.add_argument("-o", "--output", "--out", dest="output", required=True,
                        help="file to write: .png or .svg (or .dot with --format dot); --out is the old name")
    parser.add_argument("--format", choices=("png", "svg", "dot"), help="output format (default: from the file name)")
    parser.add_argument("--title", help="figure title (default: the file drawn)")
    parser.set_defaults(handler=run_viz)


def run_viz(args: argparse.Namespace) -> int:
    """Draw the genotype or plot the run; print what was written."""
    if (args.genotype is None) == (args.run is None):
        raise UserError("give a genotype JSON to draw or --run RUN to plot, not both")
    if args.run is not None:
        if args.format == "dot":
            raise UserError("--format dot is for cell diagrams; a run's plots are .png or .svg")
        runs = [Path(run) for run in args.run]
        if args.plot == "best":
            figure = best_runs_figure(runs, args.title)
        elif len(runs) > 1:
            raise UserError("several --run folders go in one figure only with --plot best")
        else:
            figure = run_figure(runs[0], args.title, args.plot)
        save_figure(figure, args.output, args.format)
    else:
        write_cells(args.genotype, args.output, args.format, args.title)
    print(f"wrote {args.output}")
    return 0


def write_cells(genotype_path: str, out: str, fmt: str | None, title: str | None) -> None:
    """The diagram of the genotype file as PNG, SVG or Graphviz text."""
    if Path(genotype_path).is_dir():
        raise UserError(f"{genotype_path} is a folder: give a genotype JSON (or --run {genotype_path} for its plots)")
    fmt = image_format(out, fmt)
    graphs = model_graphs(load_model_genotype(genotype_path).cells)
    if fmt == "dot":
        atomic_write_text(out, to_dot(graphs, name=title or Path(genotype_path).stem))
    else:
        save_figure(cell_figure(graphs, title if title is not None else genotype_path), out, fmt)
