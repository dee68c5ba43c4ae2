"""What every backbone is: named layers, named insertion points, a fully convolutional head.

A backbone runs its layers in order; after a layer whose name is an insertion point it runs
the block inserted there (an attention cell, a non-local block), if any.  The head averages
over T, H and W before the classifier, so any clip length and frame size can be classified in
one pass (fully convolutional inference, as AttentionNAS evaluates full-length videos).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from nas.errors import UserError
from nas.registry import Registry


class ClassifierHead(nn.Module):
    """Global average over (T, H, W), dropout, linear classifier: (N, C, T, H, W) -> (N, classes)."""

    def __init__(self, channels: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3, 4))  # (N, C)
        return self.fc(self.dropout(pooled))  # (N, classes)


class Backbone(nn.Module):
    """Named layers with insertion points after some of them, then a head."""

    def __init__(
        self,
        layers: Sequence[tuple[str, nn.Module]],
        insertion_channels: Mapping[str, int],
        head: nn.Module,
    ) -> None:
        super().__init__()
        names = [name for name, _ in layers]
        missing = [p for p in insertion_channels if p not in names]
        if missing:
            raise ValueError(f"insertion points {missing} name no layer")
        self.layers = nn.ModuleDict({_module_key(name): layer for name, layer in layers})
        self.layer_names = names
        self.insertion_channels = dict(insertion_channels)
        self.inserts = nn.ModuleDict()
        self.head = head

    @property
    def insertion_points(self) -> list[str]:
        """Names of the insertion points, in network order."""
        return [name for name in self.layer_names if name in self.insertion_channels]

    def insert(self, position: str, block: nn.Module) -> None:
        """Run `block` on the features after layer `position`."""
        if position not in self.insertion_channels:
            raise UserError(f"no insertion point {position!r} (this backbone has: {', '.join(self.insertion_points)})")
        self.inserts[_module_key(position)] = block

    def inserted(self) -> dict[str, nn.Module]:
        """The inserted blocks by position."""
        return {name: self.inserts[_module_key(name)] for name in self.insertion_points if _module_key(name) in self.inserts}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) -> the last feature map, with inserted blocks applied."""
        for name in self.layer_names:
            key = _module_key(name)
            x = self.layers[key](x)
            if key in self.inserts:
                x = self.inserts[key](x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _module_key(name: str) -> str:
    """Module names cannot contain dots; positions such as "res3.1" can."""
    return name.replace(".", "_")


BackboneFactory = Callable[..., Backbone]
BACKBONES: Registry[BackboneFactory] = Registry("backbone")
"""Backbone factories by name: ``factory(num_classes=..., width=..., **options) -> Backbone``."""
