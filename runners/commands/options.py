"""Option groups several verbs share: the synthetic dataset's flags and a training run's flags.

`nas data synth` and every training verb (`nas train`, `nas compare`, `nas search diff`) take
the same names with the same defaults; `runners.engine.training` reads the parsed namespace.
"""

from __future__ import annotations

import argparse

from nas.data.decoders import BACKENDS
from nas.data.sources import STAGES
from nas.data.synthetic import TASKS, SyntheticConfig
from nas.data.video_folder import FLIPS
from nas.train import TrainConfig
from runners import smoke
from runners.arg_types import SEED, integer, real


def add_synthetic_arguments(parser: argparse.ArgumentParser, num_flag: str = "--num") -> None:
    """The flags of `SyntheticConfig` (shared by `nas data synth` and `nas train --data synthetic`)."""
    defaults = SyntheticConfig(num_videos=smoke.default("num_videos", SyntheticConfig().num_videos))
    parser.add_argument(num_flag, dest="num_videos", type=integer(1, 1_000_000), default=defaults.num_videos,
                        help=f"videos in train + val + test (default {defaults.num_videos})")
    parser.add_argument("--frames", type=integer(1, 4096), default=defaults.frames, help=f"frames per video (default {defaults.frames})")
    parser.add_argument("--size", type=integer(8, 4096), default=defaults.size, help=f"frame height and width (default {defaults.size})")
    parser.add_argument("--data-seed", type=SEED, default=defaults.seed, help="seed of the dataset (default 0)")
    parser.add_argument("--task", choices=sorted(TASKS), default=defaults.task,
                        help=f"synthetic task (default {defaults.task}; see nas/data/synthetic.py)")


def add_run_arguments(parser: argparse.ArgumentParser, default_stage: str,
                      out_help: str = "run folder (resumed if it has a checkpoint)") -> None:
    """The flags every training run takes: width, data, stage, run folder, data and recipe options."""
    parser.add_argument("--width", type=real(0, 16, above=True), default=1.0, help="channel width multiplier (default 1)")
    parser.add_argument("--data", default="synthetic", help="'synthetic' or a folder with train.csv, val.csv[, test.csv]")
    parser.add_argument("--stage", choices=sorted(STAGES), default=default_stage,
                        help=f"train: train/val/test; search: search_train/search_val (default {default_stage})")
    parser.add_argument("--out", required=True, help=out_help)
    add_synthetic_arguments(parser, num_flag="--num-videos")
    folder = parser.add_argument_group("video folders")
    folder.add_argument("--stride", type=integer(1, 256), default=1, help="take every n-th frame (default 1)")
    folder.add_argument("--short-side", type=integer(8, 4096), help="resize frames to this short side")
    folder.add_argument("--crop", type=integer(8, 4096), help="square training crop (random) and clip-evaluation crop (centre)")
    folder.add_argument("--flip", choices=FLIPS, default="safe", help="horizontal flips (safe: never left/right classes)")
    folder.add_argument("--video-backend", choices=BACKENDS, default="pyav",
                        help="decoder: pyav (default) or decord, when installed (pip install decord); the same frames")
    folder.add_argument("--eval-clips", type=integer(0, 256), default=0,
                        help="evaluate K clips per video instead of the full-length video in one pass")
    recipe = parser.add_argument_group("training recipe")
    defaults = TrainConfig(epochs=smoke.default("epochs", TrainConfig().epochs))
    recipe.add_argument("--epochs", type=integer(1, 100_000), default=defaults.epochs, help="training epochs")
    recipe.add_argument("--batch-size", type=integer(1, 65_536), default=defaults.batch_size, help="global batch size")
    recipe.add_argument("--lr", type=real(0, above=True), default=defaults.lr, help="peak learning rate")
    recipe.add_argument("--optimizer", choices=("adamw", "sgd"), default=defaults.optimizer,
                        help="optimizer of the network weights (cosine schedule after the warm-up)")
    recipe.add_argument("--clip-grad-norm", type=real(0), default=defaults.clip_grad_norm,
                        help="clip the gradient norm to this (0: no clipping)")
    recipe.add_argument("--weight-decay", type=real(0, 10), default=defaults.weight_decay,
                        help="weight decay of the network weights")
    recipe.add_argument("--warmup-epochs", type=real(0, 100_000), default=defaults.warmup_epochs,
                        help="epochs of linear learning-rate warm-up")
    recipe.add_argument("--label-smoothing", type=real(0, 0.999), default=defaults.label_smoothing,
                        help="label smoothing of the cross-entropy loss")
    recipe.add_argument("--seed", type=SEED, default=defaults.seed, help="seed of the weights and the batch order")
    recipe.add_argument("--device", choices=("auto", "cpu", "cuda"), default=defaults.device,
                        help="where to train (auto: CUDA when there is a GPU)")
    recipe.add_argument("--no-amp", dest="amp", action="store_false", help="no mixed precision on CUDA")
    recipe.add_argument("--loader-workers", type=integer(0, 256), default=defaults.num_workers,
                        help=f"data-loading processes (default {defaults.num_workers}: in this process); "
                             "concurrent trials are `nas search gpb --workers`")
    recipe.add_argument("--threads", type=integer(1, 1024), help="CPU threads of this process (default: torch's choice)")
    recipe.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")
