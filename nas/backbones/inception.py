"""Inception-v1 (GoogLeNet) inflated to 3D: the network shared by I3D and S3D.

Layer names follow Inception-v1 (Szegedy et al. 2015, Table 1), which is how AttentionNAS
names its insertion points: inception modules 3a, 3b, 4a..4e, 5a, 5b (Mixed_3b .. Mixed_5c in
the I3D/S3D-G TensorFlow code, inception3a .. inception5b in torchvision's GoogLeNet).

Shapes at 250 x 256 x 256 (T x H x W), width 1, channels first:

    conv1  7x7x7 / 2       (64, 125, 128, 128)
    pool1  1x3x3 / 1,2,2   (64, 125, 64, 64)
    conv2  1x1x1           (64, 125, 64, 64)
    conv3  3x3x3           (192, 125, 64, 64)
    pool2  1x3x3 / 1,2,2   (192, 125, 32, 32)
    3a, 3b                 (256 | 480, 125, 32, 32)
    pool3  3x3x3 / 2       (480, 63, 16, 16)
    4a .. 4e               (512, 512, 512, 528, 832; 63, 16, 16)   <- insertion points
    pool4  2x2x2 / 2       (832, 32, 8, 8)
    5a, 5b                 (832 | 1024, 32, 8, 8)
    head   mean over T, H, W, dropout, linear

Padding keeps ceil(n / stride) outputs, as TensorFlow's SAME does in the I3D and S3D-G
reference code.  By default (``padding="symmetric"``) convolutions and odd pools pad k // 2 on
both sides, which puts strided windows one pixel earlier than TensorFlow on even sizes;
``padding="tf"`` pads exactly as TensorFlow (and pytorch-i3d) do: total
max((ceil(n / s) - 1) * s + k - n, 0), half before, the rest after.  I3D uses full 3D convolutions; S3D replaces every k x k x k
convolution after conv1 with a separable one (`SeparableUnit3D`) and S3D-G adds feature gating.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from nas.backbones.base import Backbone, ClassifierHead
from nas.backbones.layers import MaxPool3dSame, SeparableUnit3D, Triple, Unit3D, max_pool3d, scaled

# name: (in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5" (a 3x3, as in I3D), pool proj) at width 1
INCEPTION_V1: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}
INSERTION_POINTS = ("4a", "4b", "4c", "4d", "4e")

ConvFactory = Callable[..., nn.Module]  # (cin, cout, kernel, stride=1, gate=False, padding=...) -> module


def inception_channels(name: str, width: float) -> tuple[int, ...]:
    """The (in, b1, b2 reduce, b2, b3 reduce, b3, b4) channels of module `name` at `width`."""
    return tuple(scaled(c, width) for c in INCEPTION_V1[name])


def output_channels(name: str, width: float) -> int:
    """Channels after inception module `name` (the concatenation of its four branches)."""
    _, b1, _, b2, _, b3, b4 = inception_channels(name, width)
    return b1 + b2 + b3 + b4


class Inception3D(nn.Module):
    """Four branches concatenated: 1x1x1 | 1x1x1 -> 3x3x3 | 1x1x1 -> 3x3x3 | 3x3x3 max pool -> 1x1x1.

    Branch names match torchvision's GoogLeNet (branch1 .. branch4) so 2D weights map by name.
    """

    def __init__(self, channels: tuple[int, ...], conv3: ConvFactory, gate: bool = False, padding: str = "symmetric") -> None:
        super().__init__()
        cin, b1, b2r, b2, b3r, b3, b4 = channels
        self.branch1 = Unit3D(cin, b1, 1, gate=gate)
        self.branch2 = nn.Sequential(Unit3D(cin, b2r, 1), conv3(b2r, b2, 3, gate=gate, padding=padding))
        self.branch3 = nn.Sequential(Unit3D(cin, b3r, 1), conv3(b3r, b3, 3, gate=gate, padding=padding))
        self.branch4 = nn.Sequential(max_pool3d(3, 1, padding), Unit3D(cin, b4, 1, gate=gate))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(branches, dim=1)  # (N, b1 + b2 + b3 + b4, T, H, W)


def full_conv(
    cin: int, cout: int, kernel: int | Triple, stride: int = 1, gate: bool = False, padding: str = "symmetric"
) -> nn.Module:
    """An I3D k x k x k convolution unit."""
    return Unit3D(cin, cout, kernel, stride, gate=gate, padding=padding)


def separable_conv(
    cin: int, cout: int, kernel: int | Triple, stride: int = 1, gate: bool = False, padding: str = "symmetric",
    temporal_bn: bool = False,
) -> nn.Module:
    """An S3D separable (1 x k x k then k x 1 x 1) convolution unit."""
    return SeparableUnit3D(cin, cout, kernel, stride, gate=gate, padding=padding, temporal_bn=temporal_bn)


def inception_backbone(
    num_classes: int,
    width: float,
    dropout: float,
    conv3: ConvFactory,
    first_temporal_kernel: int = 7,
    gating: bool = False,
    padding: str = "symmetric",
    conv1: ConvFactory = full_conv,
) -> Backbone:
    """Inception-v1 in 3D with `conv3` for every 3x3x3 convolution after conv1.

    conv1 is `conv1` (`first_temporal_kernel` x 7 x 7, stride 2): a full 3D convolution by
    default, as in the S3D-G reference code; `gating` adds feature gating from conv3 on, as
    S3D-G does; `padding` is "symmetric" or "tf" (module docstring).
    """
    c64, c192 = scaled(64, width), scaled(192, width)
    layers: list[tuple[str, nn.Module]] = [
        ("conv1", conv1(3, c64, (first_temporal_kernel, 7, 7), 2, padding=padding)),
        ("pool1", max_pool3d((1, 3, 3), (1, 2, 2), padding)),
        ("conv2", Unit3D(c64, c64, 1)),
        ("conv3", conv3(c64, c192, 3, gate=gating, padding=padding)),
        ("pool2", max_pool3d((1, 3, 3), (1, 2, 2), padding)),
    ]
    for name in ("3a", "3b"):
        layers.append((name, Inception3D(inception_channels(name, width), conv3, gating, padding)))
    layers.append(("pool3", max_pool3d(3, 2, padding)))
    for name in ("4a", "4b", "4c", "4d", "4e"):
        layers.append((name, Inception3D(inception_channels(name, width), conv3, gating, padding)))
    layers.append(("pool4", MaxPool3dSame(2, stride=2)))
    for name in ("5a", "5b"):
        layers.append((name, Inception3D(inception_channels(name, width), conv3, gating, padding)))
    insertion = {name: output_channels(name, width) for name in INSERTION_POINTS}
    return Backbone(layers, insertion, ClassifierHead(output_channels("5b", width), num_classes, dropout))


def googlenet_key(key: str) -> str | None:
    """The torchvision GoogLeNet state-dict key of a 3D key (None: no 2D counterpart).

    ``layers.conv1.conv.weight -> conv1.conv.weight``, ``layers.4a.branch2.1.bn.bias ->
    inception4a.branch2.1.bn.bias``, ``head.fc.weight -> fc.weight``; S3D's temporal convs
    and the gating layers have no 2D counterpart.
    """
    if ".temporal." in key or ".gate." in key:
        return None
    if key.startswith("head.fc."):
        return key[len("head.") :]
    if not key.startswith("layers."):
        return None
    name, rest = key[len("layers.") :].split(".", 1)
    return f"inception{name}.{rest}" if name in INCEPTION_V1 else f"{name}.{rest}"
