"""I3D (Carreira & Zisserman, CVPR 2017): Inception-v1 with every convolution inflated to 3D.

Insertion points 4a .. 4e (after the inception modules of stage 4, where AttentionNAS and the
non-local paper insert their blocks).  `weights_2d` inflates an ImageNet GoogLeNet state dict
(torchvision key names) into the network: every k x k kernel is repeated over its t frames
and divided by t, so a video of one repeated frame gives the 2D network's activations.
"""

from __future__ import annotations

from nas.backbones.base import BACKBONES, Backbone
from nas.backbones.inception import full_conv, googlenet_key, inception_backbone
from nas.backbones.inflate import load_2d_weights


@BACKBONES.decorator("i3d")
def i3d(
    num_classes: int = 600,
    width: float = 1.0,
    dropout: float = 0.5,
    first_temporal_kernel: int = 7,
    weights_2d: str | None = None,
) -> Backbone:
    """I3D at width multiplier `width`; `weights_2d`: a 2D GoogLeNet state dict file to inflate."""
    net = inception_backbone(num_classes, width, dropout, full_conv, first_temporal_kernel)
    if weights_2d is not None:
        load_2d_weights(net, weights_2d, googlenet_key)
    return net
