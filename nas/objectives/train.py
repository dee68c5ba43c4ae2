"""`train`: the real trial body of a search, as AttentionNAS runs it (supplementary B.3).

Build the backbone with the cell at every insertion point (a position-agnostic cell), train it
on the search-train split, score it by top-1 accuracy on the search-val split; both splits are
carved from the training videos, so no validation video is ever used to choose a cell.  Every
trial trains with the same recipe, the same data and the same seed for the network's initial
weights and batch order, so two cells differ only by the cell.  `cost` counts the model's
FLOPs (a multiply-add is two FLOPs) and parameters at one clip of the training size.

Options (``--objective-option NAME=VALUE``) are the fields below.  ``data`` is "synthetic" or a
folder of videos with train.csv (the search splits are carved from it); ``task`` the synthetic
task (`nas.data.synthetic.TASKS`); ``threads`` is the number of CPU threads a trial may use
(the Ray worker process belongs to the trial).

``score`` says which number of the run scores the cell: ``mean`` (the default) is the
search-val top-1 averaged over the epochs (the area under the validation curve, as in
training-speed estimators of NAS: Ru et al., NeurIPS 2021), which rewards cells that learn
the task sooner and averages out the epoch-to-epoch noise of one evaluation; ``final`` is
the top-1 after the last epoch.  Both are in the metrics (``mean_top1``, ``final_top1``).

The defaults are the proxy recipe that benchmarks/objective_signal.py chose (results/signal.md):
the relational task at 4 frames of 32x32, 1800 videos, 8 epochs of AdamW at 3e-3.

``repeats=K`` trains the cell K times, with training seeds seed, seed+1, ..., seed+K-1, and
scores it by the mean top-1; the metrics keep every repeat's score (``score_r0``, ...) and the
standard error of the mean (``score_se``, sample standard deviation / sqrt(K)), which the GP
bandit takes as the observation's noise.  A trial then costs K times as much.

After every epoch the trial reports (`TrialContext.report`) its score so far: with ``score=mean``
the mean search-val top-1 of the epochs so far, with ``final`` the epoch's top-1, i.e. the score
the trial would return had it been told to stop there; ASHA compares cells by it at each rung.
With repeats > 1 the epochs of the repeats are numbered on (repeat r's epoch e is r*epochs + e)
and each reports its own run's score so far; `max_epochs` is then None, so no scheduler stops
such a trial (the repeats' mean exists only at the end).
"""

from __future__ import annotations

from dataclasses import dataclass

from nas.errors import UserError
from nas.objectives.base import OBJECTIVES, Cost, Objective, TrialContext, TrialResult
from nas.space.genotype import Genotype
from nas.stats import standard_error


@OBJECTIVES.decorator("train")
@dataclass(frozen=True)
class TrainObjective(Objective):
    """Train backbone + cell on search_train, score top-1 on search_val."""

    backbone: str = "tiny"
    width: float = 1.0
    data: str = "synthetic"
    num_videos: int = 1800  # synthetic videos (all splits); search_train/search_val come from train
    frames: int = 4  # frames per clip (synthetic videos and training clips of a folder)
    size: int = 32  # frame size of the synthetic videos / crop of a folder's training clips
    data_seed: int = 0  # which synthetic videos
    task: str = "relations"  # synthetic task: relations | motion
    epochs: int = 8
    batch_size: int = 16
    lr: float = 3e-3
    optimizer: str = "adamw"  # adamw | sgd
    clip_grad_norm: float = 0.0  # 0: no clipping
    warmup_epochs: float = 1.0
    weight_decay: float = 0.01
    score: str = "mean"  # mean: search-val top-1 averaged over the epochs; final: after the last epoch
    seed: int = 0  # initial weights and batch order (the same for every trial)
    repeats: int = 1  # training seeds averaged in one trial (seed, seed+1, ...)
    threads: int = 1

    def check(self) -> None:
        """Refuse impossible options before a run folder is made."""
        from nas.backbones import BACKBONES

        BACKBONES.get(self.backbone)
        for name in ("num_videos", "frames", "size", "epochs", "batch_size", "threads", "repeats"):
            if getattr(self, name) < 1:
                raise UserError(f"objective 'train' option {name!r} must be at least 1, got {getattr(self, name)}")
        if self.score not in SCORES:
            raise UserError(f"objective 'train' option 'score' must be one of {', '.join(SCORES)}, got {self.score!r}")
        self._splits_config().validate()
        self._config(self.seed).validate()

    def _splits_config(self):
        from nas.data.synthetic import SyntheticConfig

        return SyntheticConfig(num_videos=self.num_videos, frames=self.frames, size=self.size, seed=self.data_seed,
                               task=self.task)

    def _data(self):
        from nas.data.sources import shared_data
        from nas.data.video_folder import ClipSampling

        sampling = ClipSampling("train", self.frames, crop=None if self.data == "synthetic" else self.size)
        return shared_data(self.data, "search", self._splits_config(), sampling, ClipSampling("full"), self.data_seed)

    def _model(self, genotype: Genotype | None, num_classes: int, seed: int | None = None,
               nonlocal_blocks: bool = False):
        """The backbone with `genotype` at every insertion point (or none, or non-local blocks)."""
        from nas.models import build_model
        from nas.train import seeded

        with seeded(self.seed if seed is None else seed):
            return build_model(self.backbone, genotype, num_classes=num_classes, width=self.width,
                               nonlocal_blocks=nonlocal_blocks)

    def cost(self, genotype: Genotype) -> Cost:
        """GFLOPs and parameters of the model with the cell, at one training clip."""
        from nas.data.synthetic import TASKS
        from nas.flops import count_flops

        classes = len(TASKS[self.task].classes) if self.data == "synthetic" else 10  # the classifier's share is negligible
        report = count_flops(self._model(genotype, classes), (1, 3, self.frames, self.size, self.size))
        return Cost(report.gflops, report.params)

    def evaluate(self, genotype: Genotype, context: TrialContext) -> TrialResult:
        """Train and score (`repeats` times); a NaN or infinite loss raises `NonFiniteLoss` (a failed trial)."""
        import torch

        torch.set_num_threads(self.threads)  # this worker process runs one trial at a time
        data = self._data()
        runs = []
        for r in range(self.repeats):
            model = self._model(genotype, len(data.classes), self.seed + r)
            on_epoch = None if context.report is None else self._reporter(context.report, r)
            runs.append(self.fit(model, data, self.seed + r, _repeat_dir(context.workdir, r, self.repeats), on_epoch))
        scores = [score for score, _ in runs]
        metrics = dict(runs[0][1]) if self.repeats == 1 else _mean_metrics([m for _, m in runs])
        if self.repeats > 1:
            metrics.update({f"score_r{r}": score for r, score in enumerate(scores)})
            metrics["score_se"] = standard_error(scores)  # repeats >= 2: never None
        return TrialResult(score=sum(scores) / len(scores), metrics=metrics)

    def _config(self, seed: int):
        from nas.train import TrainConfig

        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, optimizer=self.optimizer,
                           clip_grad_norm=self.clip_grad_norm, warmup_epochs=self.warmup_epochs,
                           weight_decay=self.weight_decay, seed=seed)

    def max_epochs(self) -> int | None:
        """The epochs of a trial, which reports after each (None with repeats > 1: see the module docstring)."""
        return self.epochs if self.repeats == 1 else None

    def _reporter(self, report, repeat: int):
        """An `on_epoch` for `nas.train.train` that hands `report` the score so far after each epoch."""
        from nas.objectives.base import EpochReport

        curve: list[float] = []

        def on_epoch(record: dict) -> None:
            curve.append(record["val_top1"])
            so_far = sum(curve) / len(curve) if self.score == "mean" else curve[-1]
            numbers = {k: float(record[k]) for k in EPOCH_METRICS if isinstance(record.get(k), (int, float))}
            report(EpochReport(repeat * self.epochs + record["epoch"], self.epochs * self.repeats, so_far, numbers))

        return on_epoch

    def fit(self, model, data, seed: int, workdir: str | None = None,
            on_epoch=None) -> tuple[float, dict[str, float]]:
        """Train `model` on `data` (from `_data`) with training seed `seed`; (search-val top-1, metrics).

        `on_epoch(record)` is called after every epoch with `nas.train.train`'s record."""
        from nas.train import train

        result = train(model, data.train, data.val, self._config(seed), run_dir=workdir, pairs=data.pairs,
                       on_epoch=on_epoch)
        last = result.history[-1]
        curve = [record["val_top1"] for record in result.history]
        metrics = {"final_top1": result.final_top1, "mean_top1": sum(curve) / len(curve),
                   "val_top5": result.final_top5, "val_loss": result.final_loss, "best_top1": result.best_top1,
                   "train_seconds": sum(r["train_time"] for r in result.history)}
        if last.get("val_pair_accuracy") is not None:
            metrics["val_pair_accuracy"] = last["val_pair_accuracy"]
        return metrics[SCORES[self.score]], metrics


SCORES = {"mean": "mean_top1", "final": "final_top1"}
EPOCH_METRICS = ("val_top1", "val_loss", "val_top5", "train_loss", "train_top1", "lr", "train_time")
"""The numbers of an epoch's record that a trial reports with its score (what TensorBoard plots)."""
"""The `score` option: which metric of a training run is the trial's score."""


def _mean_metrics(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per-metric means over repeats (seconds are summed: they are what the trial cost)."""
    keys = [k for k in runs[0] if all(k in m for m in runs)]
    return {k: sum(m[k] for m in runs) / (1 if k.endswith("seconds") else len(runs)) for k in keys}


def _repeat_dir(workdir: str | None, repeat: int, repeats: int) -> str | None:
    """The checkpoint folder of one repeat: the trial's own for a single run, a subfolder for several."""
    if workdir is None or repeats == 1:
        return workdir
    from pathlib import Path

    path = Path(workdir) / f"repeat{repeat}"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)
