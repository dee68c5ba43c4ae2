"""I3D-R50: ResNet-50 inflated to 3D as in the non-local paper (Wang et al., CVPR 2018).

The "I3D 3x1x1" network of that paper (Table 1; `resnet_video_org.py` of
facebookresearch/video-nonlocal-net): conv1 is 5x7x7; in res2 every block, and in res3, res4
and res5 every other block (res3: 1st and 3rd, res4: 1st, 3rd, 5th, res5: 2nd) has a 3x1x1
first convolution instead of 1x1x1; spatial strides sit on the 3x3 convolution.  Temporal
downsampling: pool1 (2x3x3, stride 2) and pool2 (2x1x1, stride 2), so res3..res5 run at T/4.

Shapes at 250 x 256 x 256, width 1: conv1 (64, 250, 128, 128), pool1 (64, 125, 64, 64),
res2 (256, 125, 64, 64), pool2 (256, 63, 64, 64), res3 (512, 63, 32, 32),
res4 (1024, 63, 16, 16), res5 (2048, 63, 8, 8).  The pools pad like TensorFlow's SAME, so no
frame of a full-length video is dropped (the Caffe2 reference floors: 62 frames instead of 63).

Insertion points: after every other residual block, two in res3 and three in res4
("res3.1", "res3.3", "res4.1", "res4.3", "res4.5"; blocks are numbered from 0), where the
non-local paper puts its five blocks and AttentionNAS its five cells.  `weights_2d` inflates a
torchvision ResNet-50 state dict (``layer1.0.conv1.weight`` ...); `weights_3d` loads
pytorchvideo's ``i3d_r50`` checkpoint (I3D_8x8_R50.pyth).  Every tensor has its counterpart,
but that network pools differently (pool1 1x3x3 / 1,2,2, symmetric; pool2 2x1x1 unpadded), so
the loaded network is a start for fine-tuning, not the reference's computation.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from nas.backbones.base import BACKBONES, Backbone, ClassifierHead
from nas.backbones.pretrained import load_weights
from nas.backbones.layers import MaxPool3dSame, scaled

# (stage, blocks, bottleneck channels, output channels, spatial stride, temporal kernel per block)
STAGES = (
    ("res2", 3, 64, 256, 1, (3, 3, 3)),
    ("res3", 4, 128, 512, 2, (3, 1, 3, 1)),
    ("res4", 6, 256, 1024, 2, (3, 1, 3, 1, 3, 1)),
    ("res5", 3, 512, 2048, 2, (1, 3, 1)),
)
INSERTION_POINTS = ("res3.1", "res3.3", "res4.1", "res4.3", "res4.5")


class Bottleneck3D(nn.Module):
    """kt x 1 x 1 -> 1 x 3 x 3 (spatial stride) -> 1 x 1 x 1, each with BN, plus a shortcut.

    Attribute names are torchvision's (conv1..3, bn1..3, downsample) for 2D weight inflation.
    """

    def __init__(self, cin: int, mid: int, cout: int, stride: int, temporal_kernel: int) -> None:
        super().__init__()
        kt = temporal_kernel
        self.conv1 = nn.Conv3d(cin, mid, (kt, 1, 1), padding=(kt // 2, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(mid, mid, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False), nn.BatchNorm3d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class Stem(nn.Module):
    """conv1 5x7x7 (stride temporal_stride, 2, 2) + BN + ReLU."""

    def __init__(self, cout: int, temporal_stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, cout, (5, 7, 7), stride=(temporal_stride, 2, 2), padding=(2, 3, 3), bias=False)
        self.bn = nn.BatchNorm3d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


@BACKBONES.decorator("i3d_r50")
def i3d_r50(
    num_classes: int = 600,
    width: float = 1.0,
    dropout: float = 0.5,
    conv1_temporal_stride: int = 1,
    weights_2d: str | None = None,
    weights_3d: str | None = None,
) -> Backbone:
    """I3D-R50 (the non-local paper's I3D 3x1x1 ResNet-50) at width multiplier `width`.

    `conv1_temporal_stride=2` gives the layout of the reference code's `resnet_video_org.py`
    (res3..res5 at T/8 instead of the paper's T/4).
    """
    stem = scaled(64, width)
    layers: list[tuple[str, nn.Module]] = [
        ("conv1", Stem(stem, conv1_temporal_stride)),
        ("pool1", MaxPool3dSame((2, 3, 3), stride=2)),
    ]
    cin = stem
    for stage, blocks, mid, cout, stride, kernels in STAGES:
        mid, cout = scaled(mid, width), scaled(cout, width)
        for index in range(blocks):
            block = Bottleneck3D(cin, mid, cout, stride if index == 0 else 1, kernels[index])
            layers.append((f"{stage}.{index}", block))
            cin = cout
        if stage == "res2":
            layers.append(("pool2", MaxPool3dSame((2, 1, 1), stride=(2, 1, 1))))
    insertion = {p: scaled(512 if p.startswith("res3") else 1024, width) for p in INSERTION_POINTS}
    net = Backbone(layers, insertion, ClassifierHead(cin, num_classes, dropout))
    load_weights(net, weights_2d, weights_3d, resnet50_key, "pytorchvideo")
    return net


_BLOCK_KEY = re.compile(r"layers\.res(\d)_(\d+)\.(.+)")


def resnet50_key(key: str) -> str | None:
    """The torchvision ResNet-50 state-dict key of a 3D key (None: no 2D counterpart).

    ``layers.conv1.conv.weight -> conv1.weight``, ``layers.conv1.bn.* -> bn1.*``,
    ``layers.res3_0.downsample.0.weight -> layer2.0.downsample.0.weight``, ``head.fc.* -> fc.*``.
    """
    if key.startswith("layers.conv1.conv."):
        return "conv1." + key.rsplit(".", 1)[1]
    if key.startswith("layers.conv1.bn."):
        return "bn1." + key.rsplit(".", 1)[1]
    if key.startswith("head.fc."):
        return key[len("head.") :]
    match = _BLOCK_KEY.fullmatch(key)
    if match is None:
        return None
    stage, block, rest = match.groups()
    return f"layer{int(stage) - 1}.{block}.{rest}"
