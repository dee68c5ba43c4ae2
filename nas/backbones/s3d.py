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

`weights_3d` loads a kylemin/S3D checkpoint (S3D_kinetics400.pt).  That network is not the
S3D-G code's: its conv1 is separable too and its temporal convolutions have a BatchNorm and
no bias, so it loads only into ``s3d(separable_conv1=True, temporal_bn=True,
first_temporal_kernel=7)`` (the default S3D is refused, with these differences named).
"""

from __future__ import annotations

from functools import partial

from nas.backbones.base import BACKBONES, Backbone
from nas.backbones.inception import full_conv, googlenet_key, inception_backbone, separable_conv
from nas.backbones.layers import check_padding
from nas.backbones.pretrained import load_weights
from nas.errors import UserError


@BACKBONES.decorator("s3d")
def s3d(
    num_classes: int = 600,
    width: float = 1.0,
    dropout: float = 0.5,
    gating: bool = False,
    first_temporal_kernel: int = 3,
    weights_2d: str | None = None,
    weights_3d: str | None = None,
    padding: str = "symmetric",
    separable_conv1: bool = False,
    temporal_bn: bool = False,
) -> Backbone:
    """S3D (S3D-G with `gating=True`) at width multiplier `width`.

    `separable_conv1` makes conv1 separable too; `temporal_bn` gives every temporal conv a
    BatchNorm and no bias (both: kylemin/S3D's network, which `weights_3d` loads); `padding`:
    "symmetric" (k // 2 per side) or "tf" (TensorFlow SAME).
    """
    check_padding(padding)
    if weights_3d is not None:
        check_kylemin_layout(separable_conv1, temporal_bn, first_temporal_kernel, gating)
    conv3 = partial(separable_conv, temporal_bn=temporal_bn)
    conv1 = conv3 if separable_conv1 else full_conv
    net = inception_backbone(num_classes, width, dropout, conv3, first_temporal_kernel, gating, padding, conv1)
    load_weights(net, weights_2d, weights_3d, googlenet_key, "kylemin-s3d")
    return net


def check_kylemin_layout(separable_conv1: bool, temporal_bn: bool, first_temporal_kernel: int, gating: bool) -> None:
    """A UserError naming how this S3D differs from kylemin/S3D's, whose weights it is to load."""
    differences = []
    if not separable_conv1:
        differences.append("its conv1 is separable (conv_s 1x7x7 + conv_t 7x1x1): set separable_conv1=true")
    if not temporal_bn:
        differences.append("its temporal convs have BatchNorm and no bias (conv_t + bn_t): set temporal_bn=true")
    if first_temporal_kernel != 7:
        differences.append(f"its conv1 temporal kernel is 7, not {first_temporal_kernel}: set first_temporal_kernel=7")
    if gating:
        differences.append("it has no feature gating: leave gating off")
    if differences:
        raise UserError("weights_3d is a kylemin/S3D checkpoint, and this s3d differs: " + "; ".join(differences))
