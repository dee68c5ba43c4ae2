"""Pictures of cells and searches: cell diagrams, supergraph weights, trial plots, comparisons.

Nothing here imports `matplotlib.pyplot`: figures are `matplotlib.figure.Figure` objects
written by `save_figure` (Agg for PNG), so plotting touches no global state.
"""

from nas.viz.cell_graph import cell_graph, model_graphs, to_dot
from nas.viz.draw import cell_figure
from nas.viz.figures import IMAGE_FORMATS, image_format, save_figure
from nas.viz.plots import (
    Measured,
    TrialPoint,
    accuracy_flops_figure,
    best_so_far,
    best_so_far_band_figure,
    best_so_far_figure,
    comparison_figure,
    pareto_front,
    trial_values_figure,
)
from nas.viz.supergraph_plot import supergraph_weights_figure, weight_history

__all__ = [
    "IMAGE_FORMATS",
    "Measured",
    "TrialPoint",
    "accuracy_flops_figure",
    "best_so_far",
    "best_so_far_band_figure",
    "best_so_far_figure",
    "cell_figure",
    "cell_graph",
    "comparison_figure",
    "image_format",
    "model_graphs",
    "pareto_front",
    "save_figure",
    "supergraph_weights_figure",
    "to_dot",
    "trial_values_figure",
    "weight_history",
]
