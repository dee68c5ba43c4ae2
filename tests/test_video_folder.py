"""The video-folder dataset: PyAV round trip, sampling modes, full-length evaluation, bad files."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from nas.data import SyntheticConfig, collate_clips, make_synthetic
from nas.data.export import export_synthetic
from nas.data.video_folder import ClipSampling, VideoFolder, read_annotations
from nas.data.video_io import UnreadableVideo, read_video, write_video
from nas.errors import UserError
from nas.evaluation import evaluate
from nas.models import build_model

CONFIG = SyntheticConfig(num_videos=24, frames=6, size=16, seed=1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The small synthetic dataset written as MP4 files with CSV annotations."""
    root = tmp_path_factory.mktemp("synth")
    counts = export_synthetic(CONFIG, root)
    assert counts == CONFIG.split_sizes()
    return root


def _ramp_video(frames: int, size: int = 16) -> np.ndarray:
    """A test pattern whose brightness rises frame by frame: (T, size, size, 3) uint8."""
    levels = np.linspace(20, 230, frames).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (frames, size, size, 3)).copy()


def test_videos_written_by_pyav_read_back_as_the_synthetic_clips(folder):
    train = VideoFolder(folder, "train.csv", sampling=ClipSampling("train", frames=6, flip="off"))
    memory = make_synthetic(CONFIG)["train"]
    assert len(train) == len(memory) and train.classes == memory.classes
    assert train.labels == memory.labels.tolist()
    clip, label = train[3]
    assert clip.shape == (3, 6, 16, 16) and label == 3
    assert float((clip - memory[3][0]).abs().mean()) < 0.06  # lossy H.264 at 16x16
    assert (folder / "search_val.csv").read_text().splitlines()[1].startswith("videos/train/")


def test_read_video_ranges_and_frame_ramp(tmp_path):
    write_video(tmp_path / "ramp.mp4", _ramp_video(9))
    video = read_video(tmp_path / "ramp.mp4")
    assert video.shape == (9, 16, 16, 3)
    assert np.all(np.diff(video[:, 8, 8, 0].astype(int)) > 0)
    np.testing.assert_array_equal(read_video(tmp_path / "ramp.mp4", 2, 5), video[2:5])


def _annotate(root, rows, name="ann.csv", header=True):
    text = ("path,label\n" if header else "") + "".join(f"{p},{label}\n" for p, label in rows)
    (root / name).write_text(text)
    return name


def test_full_length_evaluation_takes_videos_of_different_lengths_in_one_pass(tmp_path):
    for frames in (5, 11):
        write_video(tmp_path / f"v{frames}.mp4", _ramp_video(frames))
    ann = _annotate(tmp_path, [("v5.mp4", "a"), ("v11.mp4", "b")])
    full = VideoFolder(tmp_path, ann, sampling=ClipSampling("full", stride=1))
    assert [full[i][0].shape for i in range(2)] == [(3, 5, 16, 16), (3, 11, 16, 16)]
    clips, labels = collate_clips([full[0], full[1]])
    assert isinstance(clips, list) and labels.tolist() == [0, 1]
    model = build_model("tiny", num_classes=2, width=0.25)
    result = evaluate(model, full, batch_size=2)
    assert result.count == 2 and 0 <= result.top1 <= 1
    strided = VideoFolder(tmp_path, ann, sampling=ClipSampling("full", stride=2, short_side=8))
    assert strided[1][0].shape == (3, 6, 8, 8)


def test_multi_clip_evaluation_averages_softmax_scores(tmp_path):
    write_video(tmp_path / "v.mp4", _ramp_video(12))
    ann = _annotate(tmp_path, [("v.mp4", "a")])
    clips = VideoFolder(tmp_path, ann, ["a", "b", "c"], ClipSampling("clips", frames=4, crop=12, clips=3))
    clip, _ = clips[0]
    assert clip.shape == (3, 3, 4, 12, 12)
    torch.manual_seed(0)
    model = build_model("tiny", num_classes=3, width=0.25).eval()
    with torch.no_grad():
        probs = model(clip).softmax(dim=1).mean(dim=0)  # (classes,)
    result = evaluate(model, clips)
    assert result.loss == pytest.approx(-float(probs[0].log()), rel=1e-5)


def test_training_sampling_crops_flips_and_is_seeded_by_epoch(tmp_path):
    write_video(tmp_path / "v.mp4", _ramp_video(20, size=20))
    ann = _annotate(tmp_path, [("v.mp4", "move_left"), ("v.mp4", "grow")])
    sampling = ClipSampling("train", frames=4, stride=3, short_side=16, crop=12, flip="safe")
    data = VideoFolder(tmp_path, ann, sampling=sampling, seed=5)
    clip, _ = data[0]
    assert clip.shape == (3, 4, 12, 12)
    assert np.allclose(np.diff(clip[0, :, 6, 6].numpy() * 255) / 3, 210 / 19, atol=1.5)  # every 3rd frame
    again = VideoFolder(tmp_path, ann, sampling=sampling, seed=5)
    assert torch.equal(again[0][0], clip)
    data.set_epoch(1)
    assert not torch.equal(data[0][0], clip)


def test_safe_flips_never_mirror_left_right_classes(tmp_path):
    frames = _ramp_video(4, size=16)
    frames[:, :, :4] = 0  # a dark left edge shows whether the frame was mirrored
    write_video(tmp_path / "v.mp4", frames)
    ann = _annotate(tmp_path, [("v.mp4", "move_left"), ("v.mp4", "grow")])

    def mirrored(flip: str, index: int) -> list[bool]:
        data = VideoFolder(tmp_path, ann, sampling=ClipSampling("train", frames=4, flip=flip))
        seen = []
        for epoch in range(12):
            data.set_epoch(epoch)
            clip = data[index][0]
            seen.append(bool(clip[:, :, :, -2:].mean() < clip[:, :, :, :2].mean()))
        return seen

    assert not any(mirrored("safe", 0))  # "move_left" is never flipped
    assert 0 < sum(mirrored("safe", 1)) < 12  # "grow" is, half of the time
    assert 0 < sum(mirrored("on", 0)) < 12
    assert not any(mirrored("off", 1))


def test_missing_and_corrupted_videos_are_reported_and_skipped(tmp_path, caplog):
    write_video(tmp_path / "good.mp4", _ramp_video(6))
    (tmp_path / "bad.mp4").write_bytes(b"\x00not a video" * 50)
    ann = _annotate(tmp_path, [("good.mp4", "a"), ("gone.mp4", "a"), ("bad.mp4", "b"), ("good.mp4", "b")])
    with caplog.at_level(logging.WARNING, logger="nas.data"):
        data = VideoFolder(tmp_path, ann, sampling=ClipSampling("train", frames=4))
    assert len(data) == 3 and [line for line, _ in data.missing] == [3]
    assert "ann.csv: skipped 1 missing videos of 4 listed (line 3: " in caplog.text and "gone.mp4" in caplog.text
    assert data[1] is None and len(data.unreadable) == 1  # decoding fails: skipped, not fatal
    clips, labels = collate_clips([data[0], data[1], data[2]])
    assert clips.shape == (2, 3, 4, 16, 16) and labels.tolist() == [0, 1]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nas.data"):
        assert data.verify() == 1
    assert len(data) == 2 and "bad.mp4 (line 4)" in caplog.text
    with pytest.raises(UnreadableVideo):
        read_video(tmp_path / "bad.mp4")


def test_annotations_with_and_without_header(tmp_path):
    (tmp_path / "h.csv").write_text("label,path,extra\nb,x.mp4,1\n\na,y.mp4,2\n")
    assert read_annotations(tmp_path / "h.csv") == [(2, "x.mp4", "b"), (4, "y.mp4", "a")]
    (tmp_path / "n.csv").write_text("x.mp4,b\ny.mp4,a\n")
    assert read_annotations(tmp_path / "n.csv") == [(1, "x.mp4", "b"), (2, "y.mp4", "a")]


@pytest.mark.parametrize("text, classes, fragment", [
    ("", None, "the annotation file is empty"),
    ("path,label\n", None, "lists no videos"),
    ("path,label\nv.mp4\n", None, "ann.csv line 2: expected a path and a label"),
    ("path,label\nv.mp4,zebra\n", ["a"], "ann.csv line 2: unknown class 'zebra'"),
    ("path,label\ngone.mp4,a\n", None, "no videos to read (1 listed files are missing)"),
])
def test_bad_annotations_are_user_errors(tmp_path, text, classes, fragment):
    write_video(tmp_path / "v.mp4", _ramp_video(4))
    (tmp_path / "ann.csv").write_text(text)
    with pytest.raises(UserError) as info:
        VideoFolder(tmp_path, "ann.csv", classes)
    assert fragment in str(info.value)


def test_missing_folder_annotation_and_bad_sampling_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="video folder not found"):
        VideoFolder(tmp_path / "nope", "a.csv")
    with pytest.raises(UserError, match="annotation file not found"):
        VideoFolder(tmp_path, "a.csv")
    with pytest.raises(UserError, match="crop 20 is larger than the short side 16"):
        ClipSampling(short_side=16, crop=20).validate()


def test_many_missing_videos_are_one_warning_and_all_missing_is_one_error(tmp_path, caplog):
    write_video(tmp_path / "good.mp4", _ramp_video(6))
    rows = [("good.mp4", "a")] + [(f"gone{i}.mp4", "a") for i in range(40)]
    with caplog.at_level(logging.WARNING, logger="nas.data"):
        VideoFolder(tmp_path, _annotate(tmp_path, rows), sampling=ClipSampling("train", frames=4))
    assert len(caplog.records) == 1 and "skipped 40 missing videos of 41 listed" in caplog.text
    assert "and 37 more" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nas.data"), pytest.raises(UserError, match="40 listed files are missing"):
        VideoFolder(tmp_path, _annotate(tmp_path, rows[1:]), sampling=ClipSampling("train", frames=4))
    assert not caplog.records


def test_annotation_files_that_are_not_utf8_or_have_huge_fields_are_one_line_errors(tmp_path):
    (tmp_path / "ann.csv").write_bytes(b"path,label\ncaf\xe9.mp4,a\n")
    with pytest.raises(UserError, match="not UTF-8 text"):
        VideoFolder(tmp_path, tmp_path / "ann.csv", sampling=ClipSampling("train", frames=4))
    (tmp_path / "ann.csv").write_text("path,label\n" + "x" * 200_000 + ".mp4,a\n")
    with pytest.raises(UserError, match="not a readable CSV"):
        VideoFolder(tmp_path, tmp_path / "ann.csv", sampling=ClipSampling("train", frames=4))
    (tmp_path / "ann.csv").write_text("path,label\ngood.mp4,a\n")
    (tmp_path / "classes.txt").write_bytes(b"\xff\xfe\n")
    with pytest.raises(UserError, match="class list .* is not UTF-8 text"):
        VideoFolder(tmp_path, tmp_path / "ann.csv", sampling=ClipSampling("train", frames=4))


def test_an_export_never_mixes_into_a_folder_holding_something_else(tmp_path):
    from nas.data.export import claim_folder

    record = {"schema": "attention-nas/synthetic-export@1", "config": {"num_videos": 30}, "fps": 8}
    claim_folder(tmp_path / "a", record)  # a new folder: claimed
    claim_folder(tmp_path / "a", record)  # the same dataset again (an interrupted export rerun): fine
    with pytest.raises(UserError, match="holds another synthetic dataset"):
        claim_folder(tmp_path / "a", {**record, "fps": 4})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="is not empty and holds no synthetic export"):
        claim_folder(tmp_path / "b", record)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["notes.txt"]


def _float_path_clip(video: np.ndarray, sampling: ClipSampling, rng: np.random.Generator) -> torch.Tensor:
    """The clip as the loader made it before uint8 transforms: float first, then resize, crop, flip."""
    from nas.data import transforms as T

    span = T.clip_span(sampling.frames, sampling.stride)
    start = int(rng.integers(max(0, len(video) - span) + 1))
    chosen = video[T.clip_indices(len(video), sampling.frames, sampling.stride, start)]
    clip = torch.from_numpy(chosen).permute(3, 0, 1, 2).float() / 255  # (3, T, H, W)
    size = T.resize_size(*clip.shape[-2:], sampling.short_side)
    if size != tuple(clip.shape[-2:]):
        frames = torch.nn.functional.interpolate(clip.transpose(0, 1), size=size, mode="bilinear",
                                                 align_corners=False, antialias=True)  # (T, 3, H', W')
        clip = frames.transpose(0, 1)  # (3, T, H', W')
    h, w = clip.shape[-2:]
    top, left = int(rng.integers(h - sampling.crop + 1)), int(rng.integers(w - sampling.crop + 1))
    clip = clip[..., top : top + sampling.crop, left : left + sampling.crop]
    return clip.flip(-1) if rng.random() < 0.5 else clip


@pytest.mark.parametrize("short_side", [None, 16])
def test_uint8_resize_and_crop_give_the_float_path_clips(tmp_path, short_side):
    noise = np.random.default_rng(0).integers(0, 256, (20, 24, 32, 3)).astype(np.uint8)  # fine detail: resizing shows
    write_video(tmp_path / "v.mp4", noise)
    video = read_video(tmp_path / "v.mp4")
    ann = _annotate(tmp_path, [("v.mp4", "a")])
    sampling = ClipSampling("train", frames=5, stride=3, short_side=short_side, crop=12, flip="on")
    data = VideoFolder(tmp_path, ann, sampling=sampling, seed=4)
    for epoch in range(6):
        data.set_epoch(epoch)
        clip = data[0][0]
        expected = _float_path_clip(video, sampling, np.random.default_rng([4, epoch, 0]))
        assert clip.shape == expected.shape == (3, 5, 12, 12) and clip.dtype == torch.float32 and clip.is_contiguous()
        difference = (clip - expected).abs()
        if short_side is None:
            assert float(difference.max()) == 0.0  # no resize: the very same numbers
        else:  # uint8 resize rounds every pixel to a whole level
            assert float(difference.max()) <= 1.5 / 255 and float(difference.mean()) < 0.5 / 255


def test_worker_processes_give_the_batches_of_the_main_process(folder):
    from torch.utils.data import DataLoader

    data = VideoFolder(folder, "train.csv", sampling=ClipSampling("train", frames=4, crop=12))
    batches = [list(DataLoader(data, batch_size=4, collate_fn=collate_clips, num_workers=workers))
               for workers in (0, 2)]
    assert len(batches[0]) == len(batches[1]) >= 2
    for (clips, labels), (clips_2, labels_2) in zip(*batches):
        assert clips.shape == (4, 3, 4, 12, 12) and torch.equal(clips, clips_2) and torch.equal(labels, labels_2)
