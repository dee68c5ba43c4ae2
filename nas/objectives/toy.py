"""`toy`: a cheap, deterministic, structured stand-in for training a cell.

It exists to exercise and benchmark the search machinery (controllers, the store, Ray,
resume, failures, budgets) without training anything.  Its score is a fixed random function
of the cell's *structure*, built like a real accuracy landscape is believed to be:

    raw = sum over ops   main(feature) + a * pair(feature, feature)   (what each op is)
        + sum over edges  a * link(source feature, reader feature)     (who reads whom)
        + sum over ops that read the key/value source  kv(source, feature)
        + leaves(number of outputs) + sum of pre(preprocessing value)
    score = 1 / (1 + exp(-raw / 12))                                (an "accuracy" in (0, 1))

An op's features are its kind, each ``(choice, value)`` (shared across kinds, so "temporal"
means something for every kind that has a dimension), the kind-qualified choices and its
gating.  Every weight is drawn from N(0, scale) by hashing ``(seed, term)``, so the landscape
is the same everywhere for a seed and different seeds give different landscapes.  The score
depends on the cell only through labels, edges and outputs: isomorphic cells score the same.

The option ``interaction`` (a, default 1) scales the interaction terms, pair and link.  An op
has 15 to 28 pair terms against 6 to 8 main ones, so at a = 3 the interactions carry most of
the score's variance and what a choice is worth depends mostly on the other choices.

For spaces where every op reads one input, `optimum` finds the best score exactly (each
wiring is a tree; max-sum dynamic programming over the op labels), which is what regret is
measured against.

With ``epochs=E`` (> 0) a trial also reports a learning curve, as a training trial does: after
epoch e (of E) the score so far is ``score - lag * (1 - e/E)``, where a cell's ``lag`` in
[0, 0.2) is drawn from its key, so curves cross and a low rung ranks cells imperfectly; the
sleep is spread over the epochs.  Schedulers (ASHA) can then stop toy trials early.

Options inject the failures a real search meets: cells that always raise, cells that fail on
their first attempt only, cells whose score is NaN, cells whose worker process dies (only for
a search on Ray: it ends the process that evaluates), and a sleep standing in for training.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from nas.errors import UserError
from nas.objectives.base import OBJECTIVES, Cost, Objective, TrialContext, TrialResult
from nas.space.genotype import Genotype, OpSpec
from nas.space.space import SearchSpace

SCALES = {"main": 1.0, "pair": 0.3, "link": 0.5, "kv": 0.5, "leaves": 0.5, "pre": 0.5}
SQUASH = 12.0  # raw / SQUASH goes through the logistic function (raw has a spread of about 6)


@lru_cache(maxsize=200_000)
def _weight(seed: int, term: tuple) -> float:
    """The landscape's weight of `term`: N(0, SCALES[term[0]]), fixed by (seed, term)."""
    digest = hashlib.sha256(repr((seed, term)).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return float(rng.normal(0.0, SCALES[term[0]]))


def _uniform(seed: int, key: str, what: str) -> float:
    """A per-cell number in [0, 1), fixed by (seed, key, what)."""
    digest = hashlib.sha256(repr((seed, key, what)).encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2.0**64


Label = tuple[str, tuple[tuple[str, Any], ...], bool]  # (kind, sorted choices, gating)


def op_label(spec: OpSpec) -> Label:
    """What an op is, apart from its id and inputs."""
    return (spec.kind, tuple(sorted(spec.choices.items())), bool(spec.gating))


def _features(label: Label) -> list[tuple]:
    kind, choices, gating = label
    out: list[tuple] = [("kind", kind), ("gating", gating)]
    out += [("choice", name, repr(value)) for name, value in choices]
    out += [("kind_choice", kind, name, repr(value)) for name, value in choices]
    return out


class Landscape:
    """The toy score's terms for one seed and interaction factor, cached per label (see the module docstring)."""

    def __init__(self, seed: int, interaction: float = 1.0) -> None:
        self.seed = seed
        self.interaction = interaction
        self._unary: dict[tuple[Label, str | None], float] = {}
        self._link: dict[tuple[Label | None, Label], float] = {}

    def unary(self, label: Label, kv_source: str | None) -> float:
        """main + pair (+ kv when the op reads the key/value source, i.e. kv_source is not None)."""
        cache_key = (label, kv_source)
        if cache_key not in self._unary:
            feats = _features(label)
            total = sum(_weight(self.seed, ("main", f)) for f in feats)
            total += self.interaction * sum(_weight(self.seed, ("pair", a, b)) for a, b in itertools.combinations(feats, 2))
            if kv_source is not None:
                total += sum(_weight(self.seed, ("kv", kv_source, f)) for f in feats[:1] + feats[2:])
            self._unary[cache_key] = total
        return self._unary[cache_key]

    def link(self, source: Label | None, reader: Label) -> float:
        """The edge term; `source` None is the cell input."""
        cache_key = (source, reader)
        if cache_key not in self._link:
            src = [("input",)] if source is None else _features(source)
            dst = _features(reader)
            self._link[cache_key] = self.interaction * sum(
                _weight(self.seed, ("link", a, b)) for a in src for b in dst if a[0] == b[0] or a == ("input",)
            )
        return self._link[cache_key]

    def leaves(self, count: int) -> float:
        """The term for the number of outputs the cell concatenates."""
        return _weight(self.seed, ("leaves", count))

    def pre(self, name: str, value: Any) -> float:
        """The term of one pre-processing size."""
        return _weight(self.seed, ("pre", name, repr(value)))


def _reads_kv(kind: str) -> bool:
    from nas.ops import OPS

    return OPS.get(kind).uses_kv_source


def raw_score(genotype: Genotype, landscape: Landscape) -> float:
    """The toy landscape's raw value of a cell (before the logistic squash)."""
    labels = {spec.id: op_label(spec) for spec in genotype.ops}
    total = 0.0
    for spec in genotype.ops:
        kv = genotype.kv_source if _reads_kv(spec.kind) else None
        total += landscape.unary(labels[spec.id], kv)
        total += sum(landscape.link(labels.get(e.source) if e.source else None, labels[spec.id]) for e in spec.inputs)
    total += landscape.leaves(len(genotype.leaves()))
    pre = genotype.preprocess
    total += sum(landscape.pre(n, getattr(pre, n)) for n in ("channels", "height", "width", "frames"))
    return total


def squash(raw: float) -> float:
    """Raw landscape value -> score in (0, 1)."""
    return 1.0 / (1.0 + math.exp(-raw / SQUASH))


@OBJECTIVES.decorator("toy")
@dataclass(frozen=True)
class ToyObjective(Objective):
    """Deterministic structured toy score (no training; see the module docstring)."""

    seed: int = 0  # which landscape
    noise: float = 0.0  # std of per-cell observation noise added to raw (fixed per cell and seed)
    interaction: float = 1.0  # factor on the weights of the pair and link (interaction) terms
    sleep: float = 0.0  # seconds each evaluation waits, standing in for training time
    fail_fraction: float = 0.0  # this fraction of cells always raise
    flaky_fraction: float = 0.0  # this fraction of cells raise on their first attempt only
    nan_fraction: float = 0.0  # this fraction of cells score NaN
    crash_fraction: float = 0.0  # this fraction of cells end the worker process, as a lost worker does (Ray only)
    channels: int = 64  # nominal cell input channels of the toy FLOPs count
    epochs: int = 0  # > 0: report a learning curve over this many epochs (see the module docstring)

    def max_epochs(self) -> int | None:
        """The epochs of the reported learning curve (None with epochs=0: one score, no reports)."""
        return self.epochs or None

    def check(self) -> None:
        """Refuse impossible option values."""
        for name in ("noise", "interaction", "sleep", "fail_fraction", "flaky_fraction", "nan_fraction", "crash_fraction"):
            value = getattr(self, name)
            if value < 0 or (name.endswith("fraction") and value > 1):
                raise UserError(f"objective 'toy' option {name!r}: {value} is out of range")
        if self.channels < 1:
            raise UserError(f"objective 'toy' option 'channels': {self.channels} must be positive")
        if not 0 <= self.epochs <= 10_000:
            raise UserError(f"objective 'toy' option 'epochs': {self.epochs} is out of range 0 .. 10000")

    def true_score(self, genotype: Genotype) -> float:
        """The noiseless score (what regret is measured with)."""
        return squash(raw_score(genotype, _landscape(self.seed, self.interaction)))

    def evaluate(self, genotype: Genotype, context: TrialContext) -> TrialResult:
        """The toy score of the cell, after the configured sleep and injected failures."""
        key = genotype.key()
        if self.sleep and not self.epochs:
            time.sleep(self.sleep)
        if _uniform(self.seed, key, "crash") < self.crash_fraction:
            os._exit(3)  # no cleanup, no report: what a killed or out-of-memory worker looks like
        if _uniform(self.seed, key, "fail") < self.fail_fraction:
            raise RuntimeError(f"toy objective: injected failure for cell {key}")
        if context.attempt == 1 and _uniform(self.seed, key, "flaky") < self.flaky_fraction:
            raise RuntimeError(f"toy objective: injected first-attempt failure for cell {key}")
        raw = raw_score(genotype, _landscape(self.seed, self.interaction))
        if self.noise:
            digest = hashlib.sha256(repr((self.seed, key, "noise")).encode()).digest()
            raw += self.noise * float(np.random.default_rng(int.from_bytes(digest[:8], "little")).normal())
        score = float("nan") if _uniform(self.seed, key, "nan") < self.nan_fraction else squash(raw)
        if self.epochs:
            self._curve(score, _uniform(self.seed, key, "lag") * 0.2, context)
        return TrialResult(score, {"raw": raw})

    def _curve(self, score: float, lag: float, context: TrialContext) -> None:
        """Report the learning curve that ends at `score` (sleeping `sleep / epochs` per epoch)."""
        from nas.objectives.base import EpochReport

        for epoch in range(1, self.epochs + 1):
            if self.sleep:
                time.sleep(self.sleep / self.epochs)
            if context.report is not None:
                context.report(EpochReport(epoch, self.epochs, score - lag * (1 - epoch / self.epochs)))

    def cost(self, genotype: Genotype) -> Cost:
        """Toy FLOPs: the matmuls of the cell's ops at the pre-processed shape (not a whole model)."""
        flops, params = cell_matmul_cost(genotype, self.channels)
        return Cost(gflops=flops / 1e9, params=params)


def cell_matmul_cost(genotype: Genotype, channels: int) -> tuple[int, int]:
    """(FLOPs, parameters) of the ops' 1x1x1 projections and attention matmuls (multiply-add = 2).

    At the cell's pre-processed shape (C_reduction of `channels`, T_group, H_resize, W_resize)
    for one temporal group: dot_product has three C x C projections plus Q K^T and W V
    (2 L^2 D each); map has two projections, the row weights (2 L D) and W V (L D); other kinds
    count one projection; gating adds a C x C map and the per-channel multiply.
    """
    from nas.ops.layout import rows_and_length

    pre = genotype.preprocess
    c = pre.reduced_channels(channels)
    positions = pre.frames * pre.height * pre.width
    flops = params = 0
    for spec in genotype.ops:
        dimension = str(spec.choices.get("dimension", "spatiotemporal"))
        rows, length = rows_and_length(dimension, pre.frames, pre.height, pre.width, c)
        projections = {"dot_product": 3, "map": 2}.get(spec.kind, 1)
        flops += projections * 2 * c * c * positions
        params += projections * c * c
        if spec.kind == "dot_product":
            flops += 2 * (2 * rows * rows * length)
        elif spec.kind == "map":
            flops += 2 * rows * length + rows * length
            params += length
        if spec.gating:
            flops += 2 * c * c + c * positions
            params += c * c + c
    return flops, params


@lru_cache(maxsize=16)
def _landscape(seed: int, interaction: float = 1.0) -> Landscape:
    return Landscape(seed, interaction)


def all_labels(space: SearchSpace) -> list[Label]:
    """Every op label the space allows (kind x its choices x gating)."""
    labels = []
    for kc in space.kinds:
        names = [name for name, _ in kc.choices]
        for values in itertools.product(*(vals for _, vals in kc.choices)):
            choices = tuple(sorted(zip(names, values)))
            labels += [(kc.kind, choices, bool(g)) for g in space.gating]
    return labels


def optimum(space: SearchSpace, seed: int, interaction: float = 1.0) -> float:
    """The best toy score over `space` for the landscape (seed, interaction) (exact; ops read one input each)."""
    if space.min_inputs != 1 or space.max_inputs != 1:
        raise ValueError("the exact toy optimum needs a space whose ops read exactly one input")
    land = _landscape(seed, interaction)
    labels = all_labels(space)
    link = np.array([[land.link(s, r) for r in labels] for s in labels])  # (source, reader)
    link_in = np.array([land.link(None, r) for r in labels])
    pre = sum(max(land.pre(n, v) for v in vals) for n, vals in
              (("channels", space.channels), ("height", space.heights), ("width", space.widths), ("frames", space.frames)))
    best = -math.inf
    for kv in space.kv_sources:
        unary = np.array([land.unary(lab, kv if _reads_kv(lab[0]) else None) for lab in labels])
        for parents in itertools.product(*(range(k) for k in range(1, space.num_ops + 1))):
            best = max(best, _tree_max(parents, unary, link, link_in) + land.leaves(space.num_ops - len(set(parents) - {0})) + pre)
    return squash(best)


def _tree_max(parents: tuple[int, ...], unary: np.ndarray, link: np.ndarray, link_in: np.ndarray) -> float:
    """Max over labels of a tree-shaped sum (op k+1 reads node parents[k]; node 0 the input)."""
    num_ops = len(parents)
    value = {k: unary.copy() for k in range(1, num_ops + 1)}  # best subtree value per label of op k
    for k in range(num_ops, 0, -1):
        parent = parents[k - 1]
        if parent:
            value[parent] = value[parent] + (link + value[k][None, :]).max(axis=1)
    return float(sum((link_in + value[k]).max() for k in range(1, num_ops + 1) if parents[k - 1] == 0))
