"""Inflating a 2D state dict (torchvision key names) into the 3D backbones."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nas.backbones import BACKBONES
from nas.backbones.i3d_r50 import resnet50_key
from nas.backbones.inception import googlenet_key
from nas.backbones.inflate import inflate_2d_weights, inflate_tensor, load_2d_weights
from nas.errors import UserError

KEY_MAPS = {"i3d": googlenet_key, "s3d": googlenet_key, "i3d_r50": resnet50_key}


def state_2d_for(net, key_map, seed=0):
    """A random 2D state dict with the 2D shapes of every tensor `net` takes from 2D weights."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, tensor in net.state_dict().items():
        key_2d = key_map(key)
        if key_2d is None:
            continue
        shape = tensor.shape[:2] + tensor.shape[3:] if tensor.dim() == 5 else tensor.shape
        if key.endswith("running_var"):
            state[key_2d] = torch.rand(shape, generator=gen) + 0.5
        elif key.endswith("num_batches_tracked"):
            state[key_2d] = torch.tensor(7)
        else:
            state[key_2d] = torch.randn(shape, generator=gen)
    state["aux1.fc2.weight"] = torch.randn(3, 3)  # extra 2D tensors (auxiliary heads) are ignored
    return state


def static_clip(frames=5, size=16, seed=1):
    """A 'boring' video: one random frame repeated; returns (clip (1, 3, T, H, W), frame (1, 3, H, W))."""
    frame = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))
    return frame[:, :, None].repeat(1, 1, frames, 1, 1), frame


def test_key_maps_use_torchvision_names():
    assert googlenet_key("layers.conv1.conv.weight") == "conv1.conv.weight"
    assert googlenet_key("layers.4a.branch2.1.bn.running_var") == "inception4a.branch2.1.bn.running_var"
    assert googlenet_key("layers.5b.branch4.1.conv.weight") == "inception5b.branch4.1.conv.weight"
    assert googlenet_key("layers.3a.branch2.1.temporal.weight") is None
    assert googlenet_key("layers.3a.branch1.gate.fc.weight") is None
    assert googlenet_key("head.fc.bias") == "fc.bias"
    assert resnet50_key("layers.conv1.conv.weight") == "conv1.weight"
    assert resnet50_key("layers.conv1.bn.running_mean") == "bn1.running_mean"
    assert resnet50_key("layers.res2_0.downsample.0.weight") == "layer1.0.downsample.0.weight"
    assert resnet50_key("layers.res5_2.bn3.bias") == "layer4.2.bn3.bias"
    assert resnet50_key("inserts.res3_1.theta.weight") is None


def test_inflated_kernel_is_repeated_and_divided():
    kernel = torch.randn(4, 2, 3, 3)
    inflated = inflate_tensor(kernel, torch.Size([4, 2, 5, 3, 3]))
    assert inflated.shape == (4, 2, 5, 3, 3)
    torch.testing.assert_close(inflated.sum(dim=2), kernel)
    assert torch.equal(inflated[:, :, 0], inflated[:, :, 4])


def test_i3d_on_a_static_clip_computes_the_2d_stem(tmp_path):
    net = BACKBONES.get("i3d")(width=0.25, num_classes=10)
    state = state_2d_for(net, googlenet_key)
    torch.save(state, tmp_path / "googlenet.pt")
    loaded = BACKBONES.get("i3d")(width=0.25, num_classes=10, weights_2d=str(tmp_path / "googlenet.pt")).eval()
    clip, frame = static_clip(frames=11)
    with torch.no_grad():
        out_3d = loaded.layers["conv1"](clip)  # (1, C, 6, 8, 8); output frames 2, 3 read frames 1..9 only
        ref = F.conv2d(frame, state["conv1.conv.weight"], stride=2, padding=3)
        ref = F.batch_norm(ref, state["conv1.bn.running_mean"], state["conv1.bn.running_var"],
                           state["conv1.bn.weight"], state["conv1.bn.bias"], eps=1e-3).relu()  # fmt: skip
    for t in (2, 3):
        torch.testing.assert_close(out_3d[:, :, t], ref, rtol=1e-4, atol=1e-4)
    assert torch.equal(loaded.layers["4c"].branch2[0].bn.running_var, state["inception4c.branch2.0.bn.running_var"])
    assert loaded.layers["conv1"].bn.num_batches_tracked.item() == 7
    torch.testing.assert_close(loaded.head.fc.weight, state["fc.weight"])


def test_s3d_takes_spatial_kernels_as_they_are_and_keeps_temporal_identities(tmp_path):
    net = BACKBONES.get("s3d")(width=0.25, gating=True, num_classes=10)
    state = state_2d_for(net, googlenet_key)
    report = inflate_2d_weights(net, state, googlenet_key)
    unit = net.layers["4a"].branch2[1]
    assert torch.equal(unit.conv.weight[:, :, 0], state["inception4a.branch2.1.conv.weight"])
    assert "layers.4a.branch2.1.temporal.weight" in report.kept
    assert "layers.conv3.gate.fc.weight" in report.kept
    temporal = unit.temporal.weight
    assert torch.equal(temporal[:, :, 1, 0, 0], torch.eye(temporal.shape[0])) and temporal[:, :, 0].abs().sum() == 0
    assert len(report.loaded) == sum(1 for k in net.state_dict() if googlenet_key(k) is not None)


def test_i3d_r50_block_on_a_static_clip_is_the_2d_bottleneck(tmp_path):
    net = BACKBONES.get("i3d_r50")(width=0.25, num_classes=10)
    state = state_2d_for(net, resnet50_key)
    inflate_2d_weights(net, state, resnet50_key)
    net.eval()
    block = net.layers["res2_0"]  # 3x1x1 first conv, projection shortcut
    clip, frame = static_clip(frames=5, size=8)
    x3d = torch.relu(clip.repeat(1, 6, 1, 1, 1)[:, : block.conv1.in_channels])  # (1, 16, 5, 8, 8)
    x2d = x3d[:, :, 0]

    def bn(x, prefix):
        return F.batch_norm(x, state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"],
                            state[f"{prefix}.weight"], state[f"{prefix}.bias"])  # fmt: skip

    with torch.no_grad():
        out = torch.relu(bn(F.conv2d(x2d, state["layer1.0.conv1.weight"]), "layer1.0.bn1"))
        out = torch.relu(bn(F.conv2d(out, state["layer1.0.conv2.weight"], padding=1), "layer1.0.bn2"))
        out = bn(F.conv2d(out, state["layer1.0.conv3.weight"]), "layer1.0.bn3")
        ref = torch.relu(out + bn(F.conv2d(x2d, state["layer1.0.downsample.0.weight"]), "layer1.0.downsample.1"))
        got = block(x3d)
    torch.testing.assert_close(got[:, :, 2], ref, rtol=1e-4, atol=1e-4)  # an interior frame


def test_a_head_for_other_classes_is_kept_not_refused():
    net = BACKBONES.get("i3d_r50")(width=0.25, num_classes=10)
    state = state_2d_for(net, resnet50_key)
    state["fc.weight"], state["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)
    before = net.head.fc.weight.clone()
    report = inflate_2d_weights(net, state, resnet50_key)
    assert {"head.fc.weight", "head.fc.bias"} <= set(report.kept)
    assert torch.equal(net.head.fc.weight, before)


def test_wrong_files_are_user_errors(tmp_path):
    net = BACKBONES.get("i3d")(width=0.25)
    state = state_2d_for(net, googlenet_key)
    wide = BACKBONES.get("i3d")(width=0.5)
    with pytest.raises(UserError, match="'conv1.conv.weight' cannot fill layers.conv1.conv.weight"):
        inflate_2d_weights(wide, state, googlenet_key)
    del state["inception4b.branch3.0.bn.bias"]
    with pytest.raises(UserError, match="no tensor 'inception4b.branch3.0.bn.bias'"):
        inflate_2d_weights(net, state, googlenet_key)
    with pytest.raises(UserError, match="not found"):
        load_2d_weights(net, tmp_path / "missing.pt", googlenet_key)
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(UserError, match="cannot read 2D weights"):
        load_2d_weights(net, tmp_path / "junk.pt", googlenet_key)
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(UserError, match="expected a state dict"):
        load_2d_weights(net, tmp_path / "list.pt", googlenet_key)


def test_wrapped_and_data_parallel_state_dicts_load(tmp_path):
    net = BACKBONES.get("i3d_r50")(width=0.25, num_classes=10)
    state = state_2d_for(net, resnet50_key)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, tmp_path / "ckpt.pth")
    report = load_2d_weights(net, tmp_path / "ckpt.pth", resnet50_key)
    assert "layers.res4_5.conv2.weight" in report.loaded
    torch.testing.assert_close(net.layers["res4_5"].conv2.weight[:, :, 0], state["layer3.5.conv2.weight"])
