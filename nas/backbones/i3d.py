"""I3D (Carreira & Zisserman, CVPR 2017): Inception-v1 with every convolution inflated to 3D.

Insertion points 4a .. 4e (after the inception modules of stage 4, where AttentionNAS and the
non-local paper insert their blocks).  `weights_2d` inflates an ImageNet GoogLeNet state dict
(torchvision key names) into the network: every k x k kernel is repeated over its t frames
and divided by t, so a video of one repeated frame gives the 2D network's activations.
`weights_3d` loads a pytorch-i3d ``InceptionI3d`` checkpoint (rgb_imagenet.pt, rgb_charades.pt;
`nas.backbones.pretrained`); with ``padding="tf"`` the features are then the reference's.
"""

from __future__ import annotations

from nas.backbones.base import BACKBONES, Backbone
from nas.backbones.inception import full_conv, googlenet_key, inception_backbone
from nas.backbones.layers import check_padding
from nas.backbones.pretrained import load_weights


@BACKBONES.decorator("i3d")
def i3d(
    num_classes: int = 600,
    width: float = 1.0,
    dropout: float = 0.5,
    first_temporal_kernel: int = 7,
    weights_2d: str | None = None,
    weights_3d: str | None = None,
    padding: str = "symmetric",
) -> Backbone:
    """I3D at width multiplier `width`.

    `weights_2d`: a 2D GoogLeNet state dict file to inflate; `weights_3d`: a pytorch-i3d
    checkpoint to load; `padding`: "symmetric" (k // 2 per side) or "tf" (TensorFlow SAME).
    """
    check_padding(padding)
    net = inception_backbone(num_classes, width, dropout, full_conv, first_temporal_kernel, padding=padding)
    load_weights(net, weights_2d, weights_3d, googlenet_key, "pytorch-i3d")
    return net

