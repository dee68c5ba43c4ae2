"""Figures without pyplot: a matplotlib `Figure` saved atomically as PNG or SVG.

No module of `nas.viz` imports `matplotlib.pyplot`, so no global figure manager or GUI
backend is involved: PNGs are rendered by Agg (`FigureCanvasAgg`) and stored with a palette,
SVGs by the SVG backend.  SVG ids are salted with a fixed string and carry no date, and PNGs
carry no software tag, so the same figure gives the same file.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from nas.errors import UserError
from nas.io import atomic_write_with

IMAGE_FORMATS = ("png", "svg")
PNG_DPI = 90  # keeps the committed PNGs small (well under 300 KB) and readable


def image_format(path: str | os.PathLike, given: str | None = None) -> str:
    """The format named by `given` or by the suffix of `path` (png, svg, dot); they must agree."""
    suffix = Path(path).suffix.lower().lstrip(".")
    named = {"png": "png", "svg": "svg", "dot": "dot", "gv": "dot"}.get(suffix)
    if given is not None:
        if named is not None and named != given:
            raise UserError(f"--format {given} does not match the file name {path}")
        return given
    if named is None:
        raise UserError(f"cannot tell the format of {path}: name it .png, .svg or .dot (or give --format)")
    return named


def save_figure(figure: Figure, path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Write `figure` to `path` (format from the suffix or `fmt`) atomically; return the path."""
    fmt = image_format(path, fmt)
    if fmt not in IMAGE_FORMATS:
        raise UserError(f"a figure is written as {' or '.join(IMAGE_FORMATS)}, not {fmt}")
    if fmt == "png":
        image = png_image(figure)
        return atomic_write_with(path, lambda tmp: image.save(tmp, format="PNG", optimize=True, dpi=(PNG_DPI, PNG_DPI)))
    with matplotlib.rc_context({"svg.hashsalt": "attention-nas", "svg.fonttype": "none"}):
        return atomic_write_with(path, lambda tmp: figure.savefig(tmp, format="svg", metadata={"Date": None}))


def png_image(figure: Figure) -> Image.Image:
    """The figure rendered by Agg at `PNG_DPI`, reduced to a 256-colour palette.

    Plots and diagrams use few colours, so the palette is visually lossless and makes the
    files about three times smaller than full-colour PNGs (committed figures stay small).
    """
    canvas = FigureCanvasAgg(figure)
    figure.set_dpi(PNG_DPI)
    canvas.draw()
    rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    return rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
