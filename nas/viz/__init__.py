"""Pictures of cells and searches: cell diagrams, supergraph weights, trial plots, comparisons.

Nothing here imports `matplotlib.pyplot`: figures are `matplotlib.figure.Figure` objects
written by `save_figure` (Agg for PNG), so plotting touches no global state.
"""

from nas.viz.cell_graph import cell_graph, model_graphs, to_dot
from nas.viz.draw import cell_figure
from nas.viz.figures import IMAGE_FORMATS, image_format, save_figure

__all__ = ["IMAGE_FORMATS", "cell_figure", "cell_graph", "image_format", "model_graphs", "save_figure", "to_dot"]
