"""The optimizers and the learning-rate schedule of `nas.train`.

Network weights: SGD with momentum, weight decay on weights of two or more dimensions (conv
and linear kernels), not on biases or normalisation.  Architecture weights of a supergraph:
Adam at a constant rate (DARTS).  The rate of the network weights warms up linearly and then
follows a cosine to zero.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from nas.train import TrainConfig


def learning_rate(step: int, total_steps: int, warmup_steps: int, peak: float) -> float:
    """Linear warm-up to `peak` over `warmup_steps`, then a cosine decay to zero at `total_steps`."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * peak * (1.0 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum (or AdamW) for the network weights; weight decay on weights of two or more dimensions.

    Architecture weights (a supergraph's) are left to `make_arch_optimizer`.
    """
    from nas.supergraph.cell import architecture_parameters

    arch = {id(p) for p in architecture_parameters(model)}
    network = [p for p in model.parameters() if p.requires_grad and id(p) not in arch]
    groups = [
        {"params": [p for p in network if p.dim() > 1], "weight_decay": config.weight_decay},
        {"params": [p for p in network if p.dim() <= 1], "weight_decay": 0.0},
    ]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.999))
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


def make_arch_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Adam | None:
    """Adam for a supergraph's architecture weights, as DARTS uses (betas 0.5, 0.999), or None.

    Their gradients are small and change scale as the cells' zero-initialised BatchNorm
    grows, so an adaptive step moves them where plain SGD at the network's rate barely does.
    """
    from nas.supergraph.cell import architecture_parameters

    arch = [p for p in architecture_parameters(model) if p.requires_grad]
    if not arch:
        return None
    return torch.optim.Adam(arch, lr=config.arch_lr, betas=(0.5, 0.999), weight_decay=config.arch_weight_decay)
