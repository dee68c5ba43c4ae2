"""The run machinery of every training: `nas train`, each run of `nas compare` and `nas search diff`.

A run is described by its options, the namespace `nas train` parses (run.json keeps them as
``settings``, so a run can be rebuilt from its folder): `train_config` and `synthetic_config`
read the recipe and the data from it, `open_run_data` opens the splits, `build` makes the
model, and `run_training` trains into the run folder ``--out`` (resuming it), evaluates and
writes ``run.json``, ``checkpoint.pt``, ``metrics.jsonl`` and ``result.json``.  Under
``torchrun`` every process trains its share of each batch and only the first one writes.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist

from nas import __version__
from nas.data.sources import DataSplits, open_data
from nas.data.synthetic import SyntheticConfig
from nas.data.video_folder import ClipSampling
from nas.distributed import init_process_group, world_from_env
from nas.errors import UserError
from nas.evaluation import evaluate
from nas.io import atomic_write_json
from nas.models import build_model
from nas.space import load_model_genotype
from nas.train import NonFiniteLoss, TrainConfig, resolve_device, seeded, train
from runners.engine.machine import git_commit, machine


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The `TrainConfig` named by the flags."""
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    return TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        clip_grad_norm=args.clip_grad_norm, weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs, label_smoothing=args.label_smoothing, seed=args.seed,
        device=args.device, amp=args.amp, num_workers=args.loader_workers, progress=progress,
        arch_lr=getattr(args, "arch_lr", TrainConfig.arch_lr),
        arch_weight_decay=getattr(args, "arch_weight_decay", TrainConfig.arch_weight_decay),
    ).validate()


def open_run_data(args: argparse.Namespace) -> DataSplits:
    """The datasets named by --data and --stage."""
    sampling = ClipSampling("train", args.frames, args.stride, args.short_side, args.crop, args.flip)
    if args.eval_clips:
        evaluation = ClipSampling("clips", args.frames, args.stride, args.short_side, args.crop, clips=args.eval_clips)
    else:
        evaluation = ClipSampling("full", args.frames, args.stride, args.short_side)
    synthetic = synthetic_config(args) if args.data == "synthetic" else SyntheticConfig()
    backend = getattr(args, "video_backend", "pyav")  # run folders made before --video-backend
    return open_data(args.data, args.stage, synthetic, sampling, evaluation, args.seed, backend)


def build(args: argparse.Namespace, num_classes: int) -> torch.nn.Module:
    """The model named by --backbone / --cells / --nonlocal, its weights drawn from --seed."""
    options: dict[str, Any] = {"nonlocal_blocks": True} if args.nonlocal_blocks else {}
    options.update(getattr(args, "backbone_options", None) or {})  # nas train --option, --weights-2d/3d
    cells = load_model_genotype(args.cells) if args.cells else None
    with seeded(args.seed):
        try:
            return build_model(args.backbone, cells, num_classes=num_classes, width=args.width, **options)
        except TypeError as exc:
            if "nonlocal_blocks" in str(exc):
                raise UserError(f"backbone {args.backbone!r} cannot take non-local blocks in this version") from None
            raise


def set_threads(args: argparse.Namespace) -> None:
    """Apply --threads (the CLI owns its process; the library never does this)."""
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads must be at least 1 (got {args.threads})")
        torch.set_num_threads(args.threads)


def run_training(
    args: argparse.Namespace,
    config: TrainConfig,
    model: torch.nn.Module,
    data: DataSplits,
    record_extra: Callable[[torch.nn.Module], dict[str, Any]] | None = None,
    run_info: dict[str, Any] | None = None,
    test_curve: bool = False,
) -> tuple[Any, dict[str, Any] | None]:
    """Train `model` into the run folder --out (resuming it), evaluate, write result.json.

    Returns the `TrainResult` and, in the main process, the summary written to result.json.
    `run_info` is merged into run.json; `record_extra` adds fields to every epoch's record.
    `test_curve` also scores the test split after every epoch (``test_top1`` in each record,
    their mean in result.json's ``test_curve``), without changing what the training computes.
    """
    world, out = world_from_env(), Path(args.out)
    check_training_folder(out)
    if test_curve and data.test is not None:
        record_extra = _with_test_scores(record_extra, data, config)
    created = init_process_group(world, resolve_device(config.device, world))
    fresh = not (out / "checkpoint.pt").exists()
    try:
        if world.is_main and fresh:  # a resumed run keeps its first record
            atomic_write_json(out / "run.json", {**run_record(args, config), **(run_info or {})})
        try:
            result = train(model, data.train, data.val, config, out, data.pairs,
                           on_epoch=lambda r: print(epoch_line(r, config.epochs), flush=True),
                           record_extra=record_extra)
        except NonFiniteLoss as exc:
            if not (out / "checkpoint.pt").exists():
                if world.is_main and fresh:  # nothing finished: leave no run folder behind
                    (out / "run.json").unlink(missing_ok=True)
                    with contextlib.suppress(OSError):
                        out.rmdir()  # only when it is empty
                raise UserError(f"training diverged: {exc}; try a lower --lr") from None
            raise UserError(f"training diverged: {exc}; try a lower --lr; the last finished epoch is kept in {out}") \
                from None
        test = None
        if data.test is not None:
            device = next(model.parameters()).device
            test = evaluate(model, data.test, config.eval_batch_size, device, world, data.pairs)
    finally:
        if created:
            dist.destroy_process_group()
    if not world.is_main:
        return result, None
    summary = {
        "val": {"final_top1": result.final_top1, "final_top5": result.final_top5, "best_top1": result.best_top1,
                "best_epoch": result.best_epoch, "final_pair_accuracy": result.history[-1]["val_pair_accuracy"]},
        "test": test.as_dict() if test is not None else None,
        "wall_time": result.wall_time,
        "seconds_per_epoch": sum(r["train_time"] for r in result.history) / len(result.history),
        "skipped_videos": data.skipped,
    }
    curve = [r["test_top1"] for r in result.history if "test_top1" in r]
    if len(curve) == len(result.history):
        summary["test_curve"] = {"top1": curve, "mean_top1": sum(curve) / len(curve)}
    atomic_write_json(out / "result.json", summary)
    for line in summary_lines(summary):
        print(line)
    return result, summary


def _with_test_scores(
    extra: Callable[[torch.nn.Module], dict[str, Any]] | None, data: DataSplits, config: TrainConfig
) -> Callable[[torch.nn.Module], dict[str, Any]]:
    """`extra` plus the test split's metrics (``test_top1``, ...), under a forked CPU random state."""

    def record(model: torch.nn.Module) -> dict[str, Any]:
        device = next(model.parameters()).device
        with torch.random.fork_rng(devices=[]):  # a DataLoader draws a base seed: keep training's stream
            test = evaluate(model, data.test, config.eval_batch_size, device, world_from_env(), data.pairs)
        return {**(extra(model) if extra is not None else {}), **test.as_dict("test_")}

    return record


def epoch_line(record: dict[str, Any], epochs: int) -> str:
    """One line per epoch: losses, accuracies, time."""
    pair = record.get("val_pair_accuracy")
    pair_text = f" pair {100 * pair:.1f}%" if pair is not None else ""
    return (
        f"epoch {record['epoch']}/{epochs}: train loss {record['train_loss']:.3f} top1 {100 * record['train_top1']:.1f}%"
        f" | val loss {record['val_loss']:.3f} top1 {100 * record['val_top1']:.1f}% top5 {100 * record['val_top5']:.1f}%"
        f"{pair_text} | {record['train_time']:.1f} s ({record['clips_per_second']:.0f} clips/s)"
    )


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The closing lines: validation, test, time."""
    val = summary["val"]
    lines = [f"val: top1 {100 * val['final_top1']:.1f}% top5 {100 * val['final_top5']:.1f}%"
             f"{_pair(val['final_pair_accuracy'])} (best top1 {100 * val['best_top1']:.1f}% at epoch {val['best_epoch']})"]
    test = summary["test"]
    if test is not None:
        lines.append(f"test: top1 {100 * test['top1']:.1f}% top5 {100 * test['top5']:.1f}%"
                     f"{_pair(test['pair_accuracy'])} ({test['count']} videos)")
    lines.append(f"time: {summary['wall_time']:.0f} s, {summary['seconds_per_epoch']:.1f} s per training epoch")
    return lines


def _pair(value: float | None) -> str:
    return f" pair {100 * value:.1f}%" if value is not None else ""


def check_training_folder(out: Path) -> None:
    """Refuse to train into a folder that holds something else (a search run, a dataset, ...)."""
    if not out.is_dir() or not any(p.name != "log.txt" for p in out.iterdir()):  # log.txt: `nas compare --jobs`
        return
    if not (out / "run.json").is_file():
        what = "a search run" if (out / "trials.db").exists() else "files of something else"
        raise UserError(f"{out} holds {what}, not a training run; train into an empty or new folder")


def run_record(args: argparse.Namespace, config: TrainConfig) -> dict[str, Any]:
    """What run.json keeps: how to run this again."""
    settings = {k: v for k, v in vars(args).items() if _is_json_data(v)}  # not handlers or parsers
    return {"command": ["nas", *sys.argv[1:]], "version": __version__, "git_commit": git_commit(),
            "machine": machine(), "seed": config.seed, "settings": settings, "train_config": asdict(config)}


def _is_json_data(value: Any) -> bool:
    """Whether `value` is plain JSON data (what run.json can keep of the parsed options)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_json_data(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_data(v) for k, v in value.items())
    return False


def synthetic_config(args: argparse.Namespace) -> SyntheticConfig:
    """The `SyntheticConfig` named by the flags of `add_synthetic_arguments`."""
    return SyntheticConfig(num_videos=args.num_videos, frames=args.frames, size=args.size, seed=args.data_seed,
                           task=args.task).validate()
