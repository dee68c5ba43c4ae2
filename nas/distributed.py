"""Several training processes with DistributedDataParallel, as launched by `torchrun`.

`torchrun` sets WORLD_SIZE, RANK and LOCAL_RANK (and MASTER_ADDR/PORT); a plain ``python``
run has none of them and is a world of one.  Gloo is the backend on CPU, NCCL on CUDA.
Every process sees the same global batch order and takes its own slice of each batch, so
the averaged gradient is that of the global batch (BatchNorm statistics stay per process
on CPU, where SyncBatchNorm does not run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """Where this process stands among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world_from_env() -> World:
    """The world described by torchrun's environment variables (a world of one without them)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return World(rank=rank, size=size, local_rank=int(os.environ.get("LOCAL_RANK", str(rank))))


def init_process_group(world: World, device: torch.device) -> bool:
    """Join the process group if this is a multi-process run; True if this call created it."""
    if not world.distributed or dist.is_initialized():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=world.rank, world_size=world.size)
    return True


def all_reduce_sum(values: torch.Tensor, world: World) -> torch.Tensor:
    """Element-wise sum over processes (the input itself in a world of one)."""
    if world.distributed:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def epoch_batches(
    count: int, batch_size: int, seed: int, epoch: int, world: World = World()
) -> Iterator[list[int]]:
    """This process's share of each global batch of one epoch (full batches only).

    The order is a permutation drawn from (seed, epoch) alone, so a resumed run sees the same
    batches; process r takes items r, r + size, ... of every global batch of `batch_size`.
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(count, generator=generator).tolist()
    for start in range(0, count - batch_size + 1, batch_size):
        yield order[start : start + batch_size][world.rank :: world.size]
