"""S3D and S3D-G (Xie et al., ECCV 2018): Inception-v1 with separable 3D convolutions.

Every 3x3x3 convolution after conv1 becomes a 1x3x3 spatial convolution followed by a 3x1x1
temporal one (`SeparableUnit3D`); conv1 stays a full 3D convolution, as in the S3D-G
reference code ("separable conv is slow when used at first conv layer"), with a temporal
kernel of 3, that code's default ("7 in the original I3D and S3D-G but 3 gives better
performance"); `first_temporal_kernel=7` gives the original.  With 3, our count at 250 x 256 x
256 is within 1% of the AttentionNAS paper's S3D figure; with 7 it is 24% above it
(results/flops.md).  `gating=True`
gives S3D-G: feature gating after conv3 and after every branch of every inception module.
Insertion points 4a .. 4e.  `weights_2d` inflates a GoogLeNet state dict (torchvision key
names): spatial convolutions take the 2D kernels as they are, temporal ones stay identities.
"""

from __future__ import annotations

from nas.backbones.base import BACKBONES, Backbone
from nas.backbones.inception import googlenet_key, inception_backbone, separable_conv
from nas.backbones.inflate import load_2d_weights


@BACKBONES.decorator("s3d")
def s3d(
    num_classes: int = 600,
    width: float = 1.0,
    dropout: float = 0.5,
    gating: bool = False,
    first_temporal_kernel: int = 3,
    weights_2d: str | None = None,
) -> Backbone:
    """S3D (S3D-G with `gating=True`) at width multiplier `width`."""
    net = inception_backbone(num_classes, width, dropout, separable_conv, first_temporal_kernel, gating)
    if weights_2d is not None:
        load_2d_weights(net, weights_2d, googlenet_key)
    return net
