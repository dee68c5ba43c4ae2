"""results/flops.md: our FLOPs and parameters next to the AttentionNAS paper's Table A.

Every number in the page is measured by `make_table` on this code, except the paper's
figures, which are quoted from its supplementary (Table A, 250 frames of 256 x 256,
multiply-add = 2 FLOPs).  A row more than 5% off the paper gets a note with the measured
cause; `make_table` refuses to write a page where such a row has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from nas.flops import CONVENTION, FlopReport, count_flops
from nas.models import build_model
from nas.ops.non_local import NonLocalBlock
from nas.space import Genotype, SearchSpace

INPUT = (1, 3, 250, 256, 256)  # (N, C, T, H, W) of the paper's Table A
NUM_CLASSES = 600  # Kinetics-600, the dataset of Table A
TOLERANCE = 0.05
BACKBONES = (("I3D", "i3d"), ("S3D", "s3d"), ("I3D-R50", "i3d_r50"))
PAPER_GFLOPS = {  # AttentionNAS supplementary, Table A (no I3D-R50+NL row there)
    "I3D": 1136, "I3D+NL": 1305, "I3D+Cell": 1170,
    "S3D": 656, "S3D+NL": 825, "S3D+Cell": 692,
    "I3D-R50": 938, "I3D-R50+NL": None, "I3D-R50+Cell": 1034,
}  # fmt: skip
PAPER_ACCURACY = {  # AttentionNAS supplementary, Kinetics-600 (top-1, top-5): Table A, then Table B's SG rows
    "I3D": (75.58, 92.93), "I3D+NL": (76.87, 93.44), "I3D+Cell": (77.86, 93.75),
    "S3D": (76.15, 93.22), "S3D+NL": (77.56, 93.68), "S3D+Cell": (78.51, 93.88),
    "I3D-R50": (78.10, 93.79), "I3D-R50+Cell": (79.83, 94.37),
    "I3D+SG-1 Cell": (77.86, 93.75), "I3D+SG-2 Cell": (77.82, 93.75), "I3D+SG-3 Cell": (77.71, 93.87),
}  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One model of the table."""

    label: str  # "I3D+NL"
    base: str  # "I3D"
    report: FlopReport

    @property
    def paper(self) -> float | None:
        """The paper's GFLOPs, if it has the row."""
        return PAPER_GFLOPS[self.label]

    @property
    def ratio(self) -> float | None:
        """Our GFLOPs over the paper's."""
        return None if self.paper is None else self.report.gflops / self.paper

    @property
    def off(self) -> bool:
        """Whether this row is more than 5% off the paper."""
        return self.ratio is not None and abs(self.ratio - 1) > TOLERANCE


def count(backbone: str, **kwargs: object) -> FlopReport:
    """FLOPs of a paper-scale model at the paper's input."""
    return count_flops(build_model(backbone, num_classes=NUM_CLASSES, **kwargs), INPUT)


def measure_rows(cell: Genotype) -> list[Row]:
    """The nine models: each backbone alone, with non-local blocks, with `cell` everywhere."""
    rows = []
    for label, backbone in BACKBONES:
        rows.append(Row(label, label, count(backbone)))
        rows.append(Row(f"{label}+NL", label, count(backbone, nonlocal_blocks=True)))
        rows.append(Row(f"{label}+Cell", label, count(backbone, cells=cell)))
    return rows


def _delta(row: Row, rows: dict[str, Row], category: str | None = None) -> float:
    """GFLOPs `row` adds to its backbone (in one category, or in total)."""
    base = rows[row.base].report
    if category is None:
        return row.report.gflops - base.gflops
    return (row.report.by_category[category] - base.by_category[category]) / 1e9


def _paper_delta(row: Row) -> float | None:
    base = PAPER_GFLOPS[row.base]
    return None if row.paper is None or row.label == row.base or base is None else row.paper - base


def _fmt(value: float | None, pattern: str = "{:.1f}") -> str:
    return "—" if value is None else pattern.format(value)


def render_rows(rows: list[Row]) -> list[str]:
    """The markdown table."""
    by_label = {r.label: r for r in rows}
    lines = [
        "| Model | GFLOPs (ours) | GFLOPs (paper) | ours / paper | added to backbone (ours) | added (paper) | Params (M) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        added = None if row.label == row.base else _delta(row, by_label)
        flag = " *" if row.off else ""
        lines.append(
            f"| {row.label}{flag} | {row.report.gflops:.1f} | {_fmt(row.paper, '{:d}')} | {_fmt(row.ratio, '{:.3f}')} "
            f"| {_fmt(added, '+{:.1f}')} | {_fmt(_paper_delta(row), '+{:d}')} | {row.report.params_m:.2f} |"
        )
    return lines


def note_s3d(rows: dict[str, Row]) -> str:
    """Why S3D's conv1 has a temporal kernel of 3."""
    seven = count("s3d", first_temporal_kernel=7).gflops
    return (
        "**S3D**: conv1 has a temporal kernel of 3, the default of the S3D-G reference code "
        f"(tensorflow/models `s3dg.py`). With the original 7 (`--option first_temporal_kernel=7`) we count "
        f"{seven:.1f} GFLOPs, {seven / PAPER_GFLOPS['S3D']:.3f} of the paper's {PAPER_GFLOPS['S3D']}."
    )


def note_nonlocal(row: Row, rows: dict[str, Row]) -> str:
    """Where a +NL row's difference comes from: the quadratic attention products."""
    base = dict(BACKBONES)[row.base]
    model = build_model(base, num_classes=NUM_CLASSES, nonlocal_blocks=True)
    for position in model.insertion_points:  # the same blocks with 4x fewer keys and values
        model.insert(position, NonLocalBlock(model.insertion_channels[position], pool=(1, 4, 4)))
    coarse = count_flops(model, INPUT).gflops - rows[row.base].report.gflops
    paper = _paper_delta(row)
    order = list(rows)
    earlier = [rows[k] for k in order[: order.index(row.label)] if k.endswith("+NL") and rows[k].off]
    added = lambda r: r.report.flops - rows[r.base].report.flops  # noqa: E731  (exact integers)
    if earlier and added(earlier[0]) == added(row):
        return (
            f"**{row.label}**: the same blocks at the same positions, with the same channels and sizes as in "
            f"{earlier[0].base}, add the same {_delta(row, rows):.1f} GFLOPs (the paper: +{paper}); the smaller "
            f"backbone makes the ratio larger."
        )
    text = (
        f"**{row.label}**: the five blocks add {_delta(row, rows):.1f} GFLOPs, {_delta(row, rows, 'matmul'):.1f} of them "
        f"in the two attention products (every position against every pooled position, so they grow with the "
        f"square of the T x H x W positions) and {_delta(row, rows, 'conv'):.1f} in the 1x1x1 convolutions."
    )
    if paper is not None:
        text += (
            f" The paper's blocks add {paper}. It does not say how they subsample keys and values; with the "
            f"reference block's 1x2x2 max pooling replaced by 1x4x4 we count +{coarse:.1f}."
        )
    return text


def note_nonlocal_without_paper(row: Row, rows: dict[str, Row]) -> str:
    """The I3D-R50+NL row, which the paper does not have."""
    inserts = {k.split(":", 1)[1]: v / 1e9 for k, v in row.report.by_module.items() if k.startswith("insert:")}
    res3, res4 = inserts["res3.1"], inserts["res4.1"]
    return (
        f"**{row.label}** (not in the paper): a non-local block costs {res3:.1f} GFLOPs in res3 and {res4:.1f} in "
        "res4: res3's feature maps have twice the height and width of res4's, and the attention products grow "
        "with the square of the number of positions."
    )


def note_r50(row: Row, rows: dict[str, Row]) -> str:
    """Where I3D-R50's difference comes from: the temporal strides of its stem."""
    parts = row.report.by_module
    conv1 = parts["conv1"] / 1e9
    res2 = sum(v for k, v in parts.items() if k.startswith("res2")) / 1e9
    later = sum(v for k, v in parts.items() if k.startswith(("res3", "res4", "res5"))) / 1e9
    strided = count("i3d_r50", conv1_temporal_stride=2).gflops
    paper = PAPER_GFLOPS["I3D-R50"]
    between = min(strided, row.report.gflops) < paper < max(strided, row.report.gflops)
    where = "lies between the two" if between else "matches neither"
    return (
        "**I3D-R50**: we follow the non-local paper's Table 1 (conv1 5x7x7 at the full frame rate; pool1 and pool2 "
        f"each halve time): conv1 costs {conv1:.1f} GFLOPs at 250 frames, res2 {res2:.1f} at 125, res3-res5 "
        f"{later:.1f} at 63. The released code of that paper (`resnet_video_org.py`) also strides conv1 in time "
        f"(`--option conv1_temporal_stride=2`): {strided:.1f} GFLOPs, {strided / paper:.3f} of the paper's. "
        f"AttentionNAS does not give its I3D-R50's temporal strides; its {paper} {where}."
    )


def note_cell_on_r50(row: Row, rows: dict[str, Row]) -> str:
    """A +Cell row that is off only because its backbone is."""
    return (
        f"**{row.label}**: inherits {row.base}'s difference; the five cells add {_delta(row, rows):.1f} GFLOPs "
        f"(the paper: +{_paper_delta(row)})."
    )


NOTES: dict[str, Callable[[Row, dict[str, Row]], str]] = {
    "I3D+NL": note_nonlocal,
    "S3D+NL": note_nonlocal,
    "I3D-R50": note_r50,
    "I3D-R50+NL": note_nonlocal_without_paper,
    "I3D-R50+Cell": note_cell_on_r50,
}


def difference_notes(rows: list[Row]) -> list[str]:
    """A measured note for every row more than 5% off (and the rows without a paper figure)."""
    by_label = {r.label: r for r in rows}
    notes = [note_s3d(by_label)]
    for row in rows:
        if row.off or row.paper is None:
            if row.label not in NOTES:
                raise RuntimeError(f"{row.label} is {row.ratio:.3f} of the paper's figure and has no note")
            notes.append(NOTES[row.label](row, by_label))
    return notes


def cell_notes(
    rows: list[Row], cell: Genotype, cell_path: str, space: SearchSpace | None, space_path: str | None
) -> list[str]:
    """Which reference cell the +Cell rows use, why, and how much the choice matters."""
    by_label = {r.label: r for r in rows}
    i3d_cell = by_label["I3D+Cell"]
    conv_share = _delta(i3d_cell, by_label, "conv") / _delta(i3d_cell, by_label)
    lines = [
        f"The +Cell rows insert `{cell_path}` (key `{cell.key()}`) at every insertion point. "
        + str(cell.meta.get("about", "")),
        "",
        f"In I3D, {conv_share:.0%} of what the reference cell adds is convolution (the 1x1x1 reduction to C/4 at "
        "the full feature-map size, and the expansion back).",
    ]
    if space is not None:
        seeds = range(10)
        counts = [count("i3d", cells=space.sample(seed)).gflops for seed in seeds]
        lines[-1] += (
            f" I3D with each of {len(counts)} cells sampled from `{space_path}` (seeds {seeds.start}-{seeds.stop - 1}) "
            f"counts {min(counts):.1f} to {max(counts):.1f} GFLOPs, so the choice of cell barely moves the +Cell rows."
        )
    return lines


def make_table(
    cell: Genotype, cell_path: str, command: str, space: SearchSpace | None = None, space_path: str | None = None
) -> str:
    """The whole results/flops.md page."""
    rows = measure_rows(cell)
    n, c, t, h, w = INPUT
    lines = [
        "# FLOPs and parameters of the paper-scale models",
        "",
        f"Made by `{command}` (nothing here is typed by hand except the paper's figures, quoted from the "
        "AttentionNAS supplementary, Table A).",
        "",
        f"Input {t} frames of {h} x {w} (batch {n}, {c} channels), {NUM_CLASSES} classes, inference; "
        f"FLOPs: {CONVENTION}, counting convolutions, matrix products, pooling and interpolation "
        "(`nas.flops`). Rows marked * are more than 5% off the paper; the notes below give the measured cause.",
        "",
        *render_rows(rows),
        "",
        "## Where the differences come from",
        "",
    ]
    for note in difference_notes(rows):
        lines += [f"- {note}"]
    lines += ["", "## The reference cell", "", *cell_notes(rows, cell, cell_path, space, space_path), ""]
    return "\n".join(lines)
