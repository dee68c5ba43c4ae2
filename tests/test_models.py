"""Tiny backbones and build_model: insertion points, identity at init, any clip size."""

from __future__ import annotations

import pytest
import torch

from nas.backbones import BACKBONES
from nas.errors import UserError
from nas.models import build_model
from nas.space import ModelGenotype


def test_cells_go_to_every_insertion_point_and_start_as_identity(gpb_space):
    torch.manual_seed(0)
    plain = build_model("tiny", num_classes=7).eval()
    with_cells = build_model("tiny", gpb_space.sample(0), num_classes=7).eval()
    assert list(with_cells.inserted()) == plain.insertion_points == ["s2", "s3"]
    with_cells.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(2, 3, 16, 32, 32)
    assert torch.equal(with_cells(x), plain(x))


def test_position_specific_cells(gpb_space):
    model = build_model("tiny", ModelGenotype({"s3": gpb_space.sample(1)}))
    assert list(model.inserted()) == ["s3"]
    assert model.inserted()["s3"].genotype == gpb_space.sample(1)
    with pytest.raises(UserError, match="position '4a'"):
        build_model("tiny", ModelGenotype({"4a": gpb_space.sample(1)}))


@pytest.mark.parametrize("name", ["tiny", "tiny2d"])
@pytest.mark.parametrize("clip", [(1, 3, 16, 32, 32), (2, 3, 5, 24, 40), (1, 3, 33, 48, 48)])
def test_any_clip_size_is_classified_in_one_pass(name, clip, gpb_space):
    model = build_model(name, gpb_space.sample(2), num_classes=5, width=0.5).eval()
    with torch.no_grad():
        assert model(torch.randn(clip)).shape == (clip[0], 5)


def test_tiny2d_cannot_see_frame_order_and_tiny_can():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 32, 32)
    blind = build_model("tiny2d").eval()
    seeing = build_model("tiny").eval()
    with torch.no_grad():
        torch.testing.assert_close(blind(x), blind(x.flip(2)))
        assert not torch.allclose(seeing(x), seeing(x.flip(2)), atol=1e-4)


def test_unknown_backbone_is_a_user_error():
    with pytest.raises(UserError, match="unknown backbone 'vgg'"):
        build_model("vgg")
    assert {"tiny", "tiny2d"} <= set(BACKBONES.names())


def test_cells_given_as_a_path_json_text_or_dict(tmp_path, gpb_space):
    from pathlib import Path

    cell = gpb_space.sample(5)
    model = ModelGenotype({"s3": cell})
    (tmp_path / "best_genotype.json").write_text(model.to_json())
    for cells in (tmp_path / "best_genotype.json", str(tmp_path / "best_genotype.json"), model.to_json(), model.to_dict()):
        assert {p: c.genotype for p, c in build_model("tiny", cells).inserted().items()} == {"s3": cell}
    assert list(build_model("tiny", cell.to_json()).inserted()) == ["s2", "s3"]
    with pytest.raises(UserError, match="genotype file not found"):
        build_model("tiny", Path(tmp_path / "missing.json"))
