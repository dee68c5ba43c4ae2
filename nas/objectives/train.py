"""`train`: the real trial body of a search, as AttentionNAS runs it (supplementary B.3).

Build the backbone with the cell at every insertion point (a position-agnostic cell), train it
on the search-train split, score it by top-1 accuracy on the search-val split; both splits are
carved from the training videos, so no validation video is ever used to choose a cell.  Every
trial trains with the same recipe, the same data and the same seed for the network's initial
weights and batch order, so two cells differ only by the cell.  `cost` counts the model's
FLOPs (a multiply-add is two FLOPs) and parameters at one clip of the training size.

Options (``--objective-option NAME=VALUE``) are the fields below.  ``data`` is "synthetic" or a
folder of videos with train.csv (the search splits are carved from it); ``threads`` is the
number of CPU threads a trial may use (the Ray worker process belongs to the trial).
"""

from __future__ import annotations

from dataclasses import dataclass

from nas.errors import UserError
from nas.objectives.base import OBJECTIVES, Cost, Objective, TrialContext, TrialResult
from nas.space.genotype import Genotype


@OBJECTIVES.decorator("train")
@dataclass(frozen=True)
class TrainObjective(Objective):
    """Train backbone + cell on search_train, score top-1 on search_val."""

    backbone: str = "tiny"
    width: float = 1.0
    data: str = "synthetic"
    num_videos: int = 1200  # synthetic videos (all splits); search_train/search_val come from train
    frames: int = 8  # frames per clip (synthetic videos and training clips of a folder)
    size: int = 32  # frame size of the synthetic videos / crop of a folder's training clips
    data_seed: int = 0  # which synthetic videos
    epochs: int = 3
    batch_size: int = 16
    lr: float = 0.1
    weight_decay: float = 1e-4
    seed: int = 0  # initial weights and batch order (the same for every trial)
    threads: int = 1

    def check(self) -> None:
        """Refuse impossible options before a run folder is made."""
        from nas.backbones import BACKBONES

        BACKBONES.get(self.backbone)
        for name in ("num_videos", "frames", "size", "epochs", "batch_size", "threads"):
            if getattr(self, name) < 1:
                raise UserError(f"objective 'train' option {name!r} must be at least 1, got {getattr(self, name)}")
        self._splits_config().validate()

    def _splits_config(self):
        from nas.data.synthetic import SyntheticConfig

        return SyntheticConfig(num_videos=self.num_videos, frames=self.frames, size=self.size, seed=self.data_seed)

    def _data(self):
        from nas.data.sources import open_data
        from nas.data.video_folder import ClipSampling

        sampling = ClipSampling("train", self.frames, crop=None if self.data == "synthetic" else self.size)
        return open_data(self.data, "search", self._splits_config(), sampling, ClipSampling("full"), self.data_seed)

    def _model(self, genotype: Genotype, num_classes: int):
        from nas.models import build_model
        from nas.train import seeded

        with seeded(self.seed):
            return build_model(self.backbone, genotype, num_classes=num_classes, width=self.width)

    def cost(self, genotype: Genotype) -> Cost:
        """GFLOPs and parameters of the model with the cell, at one training clip."""
        from nas.flops import count_flops

        classes = 12 if self.data == "synthetic" else 10  # the classifier's share is negligible
        report = count_flops(self._model(genotype, classes), (1, 3, self.frames, self.size, self.size))
        return Cost(report.gflops, report.params)

    def evaluate(self, genotype: Genotype, context: TrialContext) -> TrialResult:
        """Train and score; a NaN or infinite loss raises `NonFiniteLoss` (a failed trial)."""
        import torch

        from nas.train import TrainConfig, train

        torch.set_num_threads(self.threads)  # this worker process runs one trial at a time
        data = self._data()
        model = self._model(genotype, len(data.classes))
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                             weight_decay=self.weight_decay, seed=self.seed)
        result = train(model, data.train, data.val, config, run_dir=context.workdir, pairs=data.pairs)
        last = result.history[-1]
        metrics = {"val_top5": result.final_top5, "val_loss": result.final_loss, "best_top1": result.best_top1,
                   "train_seconds": sum(r["train_time"] for r in result.history)}
        if last.get("val_pair_accuracy") is not None:
            metrics["val_pair_accuracy"] = last["val_pair_accuracy"]
        return TrialResult(score=result.final_top1, metrics=metrics)
