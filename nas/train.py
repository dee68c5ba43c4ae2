"""The training loop (optimizers and schedule in `nas.optim`): epochs, evaluation, checkpoints, resume.

`train` fits a classifier on a dataset of (clip, label) samples and evaluates it on a
validation set after every epoch.  With a run folder it writes, after each epoch, an atomic
checkpoint (``checkpoint.pt``) and the metrics so far as JSON lines (``metrics.jsonl``), and
on a later call continues exactly where it stopped: same weights, optimizer state, random
state and batch order as if it had never stopped.  A NaN or infinite loss raises
`NonFiniteLoss` before the bad step touches the weights.  Launched by ``torchrun`` it trains
with DistributedDataParallel (gloo on CPU, NCCL on CUDA); on CUDA it uses mixed precision.

Randomness: the batch order comes from (seed, epoch); dropout and augmentation draw from the
torch generator, seeded with `TrainConfig.seed` at the start and restored from the
checkpoint on resume, inside `torch.random.fork_rng` so the caller's state is untouched.
Weight decay applies to convolution and linear weights, not to biases or normalisation.
"""

from __future__ import annotations

import json
import math
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from nas.checkpoint import check_same_config, load_checkpoint, load_model_state, save_checkpoint
from nas.data.clips import collate_clips
from nas.distributed import World, all_reduce_sum, epoch_batches, init_process_group, world_from_env
from nas.errors import UserError
from nas.evaluation import evaluate, topk_correct
from nas.io import atomic_write_text
from nas.optim import learning_rate, make_arch_optimizer, make_optimizer

METRICS_NAME = "metrics.jsonl"
RESUME_FREE_FIELDS = ("eval_batch_size", "device", "num_workers", "progress")
"""Settings that may change when a run resumes; every other one must match the checkpoint."""


class NonFiniteLoss(ArithmeticError):
    """The training loss became NaN or infinite; the weights are those of the last good step."""


@dataclass(frozen=True)
class TrainConfig:
    """How to train (the defaults are the proxy recipe of the synthetic dataset)."""

    epochs: int = 8
    batch_size: int = 16  # global batch, shared out among the processes
    lr: float = 3e-3  # peak learning rate, reached at the end of the warm-up
    optimizer: str = "adamw"  # "adamw" (decoupled weight decay) or "sgd" (with momentum)
    momentum: float = 0.9  # SGD momentum (AdamW's beta1 is 0.9 either way)
    clip_grad_norm: float = 0.0  # clip the global gradient norm to this (0: no clipping)
    weight_decay: float = 0.01  # on conv and linear weights only
    warmup_epochs: float = 1.0  # linear warm-up from lr / warmup_steps to lr
    label_smoothing: float = 0.0
    seed: int = 0
    eval_batch_size: int = 32
    device: str = "auto"  # "auto" (CUDA when there is one), "cpu" or "cuda"
    amp: bool = True  # mixed precision, on CUDA only
    num_workers: int = 0  # DataLoader worker processes
    progress: bool = False  # a progress bar on stderr
    arch_lr: float = 3e-3  # Adam learning rate of architecture weights (supergraphs only), constant
    arch_weight_decay: float = 1e-3  # weight decay of architecture weights

    def validate(self) -> "TrainConfig":
        """Raise `UserError` for settings no run could use; return self."""
        checks = [
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.batch_size >= 1 and self.eval_batch_size >= 1, "batch sizes must be at least 1"),
            (self.lr > 0 and math.isfinite(self.lr), "lr must be a positive number"),
            (self.optimizer in ("sgd", "adamw"), "optimizer must be sgd or adamw"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (self.clip_grad_norm >= 0 and math.isfinite(self.clip_grad_norm), "clip_grad_norm must not be negative"),
            (self.weight_decay >= 0, "weight_decay must not be negative"),
            (0 <= self.warmup_epochs <= self.epochs, "warmup_epochs must be between 0 and epochs"),
            (0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)"),
            (self.device in ("auto", "cpu", "cuda"), "device must be auto, cpu or cuda"),
            (self.num_workers >= 0, "num_workers must not be negative"),
            (self.arch_lr >= 0 and math.isfinite(self.arch_lr), "arch_lr must not be negative"),
            (self.arch_weight_decay >= 0, "arch_weight_decay must not be negative"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(f"training config: {message}")
        return self


@dataclass
class TrainResult:
    """What a training run reached; accuracies in [0, 1], times in seconds."""

    history: list[dict[str, Any]]  # one record per epoch, as in metrics.jsonl
    final_top1: float
    final_top5: float
    best_top1: float
    best_top5: float  # top-5 of the epoch with the best top-1
    best_epoch: int
    final_loss: float  # validation loss after the last epoch
    wall_time: float  # training and validation time of every epoch, over all sessions
    resumed_from: int = 0  # epochs already done when this call started
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_device(name: str, world: World) -> torch.device:
    """The device to train on: CUDA (this process's GPU) when asked for or available, else CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("training config: device cuda asked for, but no CUDA device is available")
    if name == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", world.local_rank % torch.cuda.device_count())


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's generator seeded by `seed` (e.g. to draw a model's initial
    weights), restoring the caller's generator state afterwards."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


def train(
    model: nn.Module,
    train_set: Dataset,
    val_set: Dataset,
    config: TrainConfig = TrainConfig(),
    run_dir: str | Path | None = None,
    pairs: Sequence[tuple[int, int]] = (),
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    record_extra: Callable[[nn.Module], dict[str, Any]] | None = None,
) -> TrainResult:
    """Train `model` on `train_set`, validating on `val_set` after each epoch.

    With `run_dir`, resumes from its checkpoint if there is one.  `pairs` (class index pairs
    that are each other's time reversal) add ``val_pair_accuracy`` to the metrics.
    `on_epoch` is called with each epoch's record in the main process.  `record_extra(model)`
    adds fields to every epoch's record before it is checkpointed (e.g. a supergraph's
    architecture weights), so they survive a resume like the metrics do.
    """
    config.validate()
    world = world_from_env()
    if len(train_set) < config.batch_size:
        raise UserError(f"the training set has {len(train_set)} clips, fewer than one batch of {config.batch_size}")
    if config.batch_size % world.size:
        raise UserError(f"batch size {config.batch_size} does not split evenly over {world.size} processes")
    device = resolve_device(config.device, world)
    created = init_process_group(world, device)
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            run = _Run(model, train_set, val_set, config, run_dir, pairs, world, device, record_extra)
            return run.fit(on_epoch)
    finally:
        if created:
            dist.destroy_process_group()


class _Run:
    """One call of `train`: the model, its optimizer and the state a checkpoint keeps."""

    def __init__(self, model, train_set, val_set, config, run_dir, pairs, world, device, record_extra=None) -> None:
        self.model, self.train_set, self.val_set, self.config = model.to(device), train_set, val_set, config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.pairs, self.world, self.device = tuple(pairs), world, device
        self.amp = config.amp and device.type == "cuda"
        self.optimizer = make_optimizer(model, config)
        self.arch_optimizer = make_arch_optimizer(model, config)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp)
        self.steps_per_epoch = len(train_set) // config.batch_size
        self.history: list[dict[str, Any]] = []
        self.record_extra = record_extra
        self.net = model
        if world.distributed:
            ids = [device.index] if device.type == "cuda" else None
            self.net = DistributedDataParallel(model, device_ids=ids)

    def fit(self, on_epoch: Callable[[dict[str, Any]], None] | None) -> TrainResult:
        start = self._resume()
        for epoch in range(start, self.config.epochs):
            record = self._epoch(epoch)
            self.history.append(record)
            if self.world.is_main and self.run_dir is not None:
                self._save(epoch + 1)
            if self.world.is_main and on_epoch is not None:
                on_epoch(record)
        return self._result(start)

    def _resume(self) -> int:
        """Restore the checkpoint of the run folder, if any; return the number of epochs done."""
        state = load_checkpoint(self.run_dir) if self.run_dir is not None else None
        if state is None:
            torch.manual_seed(self.config.seed)
            return 0
        check_same_config(self.run_dir, state["config"], asdict(self.config), RESUME_FREE_FIELDS)
        if state["train_size"] != len(self.train_set):
            raise UserError(
                f"run folder {self.run_dir} was trained on {state['train_size']} clips, "
                f"this training set has {len(self.train_set)}"
            )
        load_model_state(self.model, state["model"], self.run_dir)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.arch_optimizer is not None:
            self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"])
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.history = list(state["history"])
        return int(state["epoch"])

    def _save(self, epochs_done: int) -> None:
        state = {
            "epoch": epochs_done,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "arch_optimizer": self.arch_optimizer.state_dict() if self.arch_optimizer is not None else None,
            "scaler": self.scaler.state_dict(),
            "rng": torch.get_rng_state(),
            "history": self.history,
            "config": asdict(self.config),
            "train_size": len(self.train_set),
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        save_checkpoint(self.run_dir, state)
        lines = "".join(json.dumps(record) + "\n" for record in self.history)
        atomic_write_text(self.run_dir / METRICS_NAME, lines)

    def _epoch(self, epoch: int) -> dict[str, Any]:
        """Train one epoch, then validate; return the epoch's record."""
        config, started = self.config, time.perf_counter()
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(epoch)  # per-epoch augmentation of folder datasets
        batches = epoch_batches(len(self.train_set), config.batch_size, config.seed, epoch, self.world)
        loader = DataLoader(
            self.train_set, batch_sampler=batches, collate_fn=collate_clips, num_workers=config.num_workers
        )
        shown = config.progress and self.world.is_main
        bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False,
                   disable=not shown, file=sys.stderr)
        totals = torch.zeros(3, dtype=torch.float64)  # loss sum, top-1 correct, clips
        self.model.train()
        for step, (clips, labels) in enumerate(loader):
            lr = self._set_lr(epoch * self.steps_per_epoch + step)
            totals += self._step(clips, labels, epoch, step)
            bar.update(1)
            bar.set_postfix(loss=f"{totals[0] / max(1.0, float(totals[2])):.3f}", lr=f"{lr:.4f}")
        bar.close()
        train_time = time.perf_counter() - started
        val = evaluate(self.model, self.val_set, config.eval_batch_size, self.device, self.world, self.pairs,
                       config.num_workers)
        loss, correct, count = totals.tolist()
        return {
            "epoch": epoch + 1,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": loss / max(1.0, count),
            "train_top1": correct / max(1.0, count),
            **val.as_dict("val_"),
            "train_time": train_time,
            "eval_time": time.perf_counter() - started - train_time,
            "clips_per_second": count / train_time,
            **(self.record_extra(self.model) if self.record_extra is not None else {}),
        }

    def _set_lr(self, step: int) -> float:
        total = self.config.epochs * self.steps_per_epoch
        warmup = int(round(self.config.warmup_epochs * self.steps_per_epoch))
        lr = learning_rate(step, total, warmup, self.config.lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _step(self, clips: torch.Tensor | list, labels: torch.Tensor, epoch: int, step: int) -> torch.Tensor:
        """One SGD step; returns (loss sum, top-1 correct, clips) summed over processes."""
        if isinstance(clips, list):  # frames of different sizes cannot be trained as one batch
            raise UserError("training clips must all have one shape: set a fixed number of frames and crop size")
        clips, labels = clips.to(self.device, non_blocking=True), labels.to(self.device)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            logits = self.net(clips)  # (N, classes)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=self.config.label_smoothing)
        correct = topk_correct(logits.detach().float(), labels, 1)
        local = torch.tensor([float(loss.detach()) * len(labels), correct, len(labels)], dtype=torch.float64)
        totals = all_reduce_sum(local, self.world)  # every process sees the same verdict below
        if not math.isfinite(float(totals[0])):
            raise NonFiniteLoss(f"the training loss is {float(totals[0])} at epoch {epoch + 1}, step {step + 1}")
        optimizers = [self.optimizer] + ([self.arch_optimizer] if self.arch_optimizer is not None else [])
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.clip_grad_norm > 0:
            self.scaler.unscale_(self.optimizer)
            network = [p for group in self.optimizer.param_groups for p in group["params"]]
            nn.utils.clip_grad_norm_(network, self.config.clip_grad_norm)
        for optimizer in optimizers:
            self.scaler.step(optimizer)
        self.scaler.update()
        return totals

    def _result(self, resumed_from: int) -> TrainResult:
        last = self.history[-1]
        best = max(self.history, key=lambda r: (r["val_top1"], -r["epoch"]))
        return TrainResult(
            history=self.history,
            final_top1=last["val_top1"],
            final_top5=last["val_top5"],
            best_top1=best["val_top1"],
            best_top5=best["val_top5"],
            best_epoch=best["epoch"],
            final_loss=last["val_loss"],
            wall_time=sum(r["train_time"] + r["eval_time"] for r in self.history),
            resumed_from=resumed_from,
            extra={"val_pair_accuracy": last.get("val_pair_accuracy")},
        )
