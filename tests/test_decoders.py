"""Reading frames with one open: seeking gives the frames of a decode from frame 0, lengths, backends."""

from __future__ import annotations

import importlib.util
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from nas.data import decoders
from nas.data.decoders import Frames, UnreadableVideo, check_backend, read_frames
from nas.data.video_folder import ClipSampling, VideoFolder
from nas.data.video_io import write_video
from nas.errors import UserError
from tests.conftest import run_nas

HAS_DECORD = importlib.util.find_spec("decord") is not None
needs_decord = pytest.mark.skipif(not HAS_DECORD, reason="decord is not installed (optional: pip install decord)")


def moving_pattern(frames: int, size: int = 32) -> np.ndarray:
    """Smooth waves that move and brighten frame by frame (x264 codes them with B-frames): (T, size, size, 3)."""
    t, y, x = np.mgrid[0:frames, 0:size, 0:size].astype(np.float32)  # (T, size, size) each
    wave = (np.sin((x + 2 * t) / 5) + np.cos((y - t) / 4)) * 50 + 100 + 2 * t
    return np.clip(np.stack([wave, np.roll(wave, 3, axis=1), 255 - wave], axis=-1), 0, 255).astype(np.uint8)


def reference(path) -> np.ndarray:
    """Every frame, decoded from frame 0 without seeking, the plain PyAV way: (T, H, W, 3)."""
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


class Recorder:
    """Counts what `av.open` does: opens, seeks, frames decoded (wraps the real containers)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opens, self.seeks, self.decoded = 0, 0, 0
        real_open = av.open
        recorder = self

        class Container:
            def __init__(self, container) -> None:
                self._container = container

            def __getattr__(self, name):
                return getattr(self._container, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self._container.__exit__(*exc)

            def seek(self, *args, **kwargs):
                recorder.seeks += 1
                return self._container.seek(*args, **kwargs)

            def decode(self, *args, **kwargs):
                for frame in self._container.decode(*args, **kwargs):
                    recorder.decoded += 1
                    yield frame

        def counting_open(*args, **kwargs):
            recorder.opens += 1
            return Container(real_open(*args, **kwargs))

        monkeypatch.setattr(av, "open", counting_open)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """32-frame videos: x264's keyframe interval (one keyframe) and a keyframe every 4 frames."""
    root = tmp_path_factory.mktemp("videos")
    frames = moving_pattern(32)
    write_video(root / "long_gop.mp4", frames)
    write_video(root / "short_gop.mp4", frames, keyframe_interval=4)
    return root


@pytest.mark.parametrize("name", ["long_gop.mp4", "short_gop.mp4"])
def test_seeking_returns_exactly_the_frames_of_a_decode_from_frame_0(videos, name):
    path = videos / name
    expected = reference(path)
    assert len(expected) == 32 and len({frame.tobytes() for frame in expected}) == 32  # every frame differs
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.has_b_frames  # frames come out of decode order
    for start in range(32):
        indices = np.minimum(start + 3 * np.arange(4), 31)  # every 3rd frame, the last one repeated past the end
        got = read_frames(path, lambda length: indices)
        assert got.length == 32
        np.testing.assert_array_equal(got.images, expected[indices])


def test_a_clip_is_decoded_from_the_keyframe_before_it_with_one_open(videos, monkeypatch):
    expected = reference(videos / "short_gop.mp4")
    recorder = Recorder(monkeypatch)
    got = read_frames(videos / "short_gop.mp4", lambda length: np.arange(21, 25))
    np.testing.assert_array_equal(got.images, expected[21:25])
    assert (recorder.opens, recorder.seeks) == (1, 1)
    assert recorder.decoded == 5  # frames 20 (the keyframe) to 24, not the 25 frames from 0


def test_wrong_timestamps_never_give_wrong_frames(videos, monkeypatch, tmp_path):
    expected = reference(videos / "short_gop.mp4")
    true_step = decoders._frame_step
    monkeypatch.setattr(decoders, "_frame_step", lambda stream: 2 * true_step(stream))  # numbers frames 0, 2, 4, ...
    recorder = Recorder(monkeypatch)
    got = read_frames(videos / "short_gop.mp4", lambda length: np.arange(9, 13))
    np.testing.assert_array_equal(got.images, expected[9:13])
    assert recorder.opens == 2  # the check failed, so a fresh decode from frame 0 counted the frames
    monkeypatch.undo()

    frames = moving_pattern(12)  # variable frame rate: timestamps 0 1 2 4 5 7 ... (in 1/8 s)
    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for pts, image in zip([0, 1, 2, 4, 5, 7, 8, 9, 12, 13, 14, 16], frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 8)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    np.testing.assert_array_equal(read_frames(path, lambda length: np.arange(5, 9)).images, reference(path)[5:9])


def _write_mkv(path, frames: np.ndarray) -> None:
    """Matroska declares no frame count."""
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=8, options={"x264-params": "keyint=4:min-keyint=4:scenecut=0"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def test_a_video_without_a_declared_length_is_counted_once_then_read_by_seeking(tmp_path, monkeypatch):
    _write_mkv(tmp_path / "v.mkv", moving_pattern(12))
    expected = reference(tmp_path / "v.mkv")
    (tmp_path / "ann.csv").write_text("v.mkv,a\n")
    data = VideoFolder(tmp_path, "ann.csv", sampling=ClipSampling("train", frames=3, flip="off"), seed=3)
    assert data.verify() == 0 and data.lengths == {}  # the header says nothing
    recorder = Recorder(monkeypatch)
    first = data[0][0]
    assert data.lengths == {tmp_path / "v.mkv": 12} and (recorder.opens, recorder.seeks, recorder.decoded) == (1, 0, 12)
    data.set_epoch(1)
    second = data[0][0]
    assert recorder.opens == 2 and recorder.decoded < 24  # the second read knew the length, seeked, decoded less
    for clip in (first, second):
        found = [i for i in range(10) if torch.equal(clip, torch.from_numpy(expected[i : i + 3]).permute(3, 0, 1, 2) / 255)]
        assert len(found) == 1  # three consecutive frames of the video


def test_a_declared_length_too_high_repeats_the_last_frame_and_reports_the_real_length(videos):
    expected = reference(videos / "short_gop.mp4")
    got = read_frames(videos / "short_gop.mp4", lambda length: np.arange(length - 4, length), length=34)
    assert got.length == 32
    np.testing.assert_array_equal(got.images, expected[[30, 31, 31, 31]])


@pytest.mark.parametrize("sampling", [
    ClipSampling("train", frames=4, stride=2, crop=24),
    ClipSampling("full", stride=3),
    ClipSampling("clips", frames=4, crop=24, clips=3),
])
@pytest.mark.parametrize("verified", [True, False])
def test_every_read_of_the_folder_dataset_opens_its_file_once(videos, monkeypatch, sampling, verified):
    (videos / "ann.csv").write_text("short_gop.mp4,a\nlong_gop.mp4,b\n")
    data = VideoFolder(videos, "ann.csv", sampling=sampling)
    if verified:
        data.verify()  # reads every header once: the lengths are known before the first read
    assert data.lengths == ({videos / "short_gop.mp4": 32, videos / "long_gop.mp4": 32} if verified else {})
    recorder = Recorder(monkeypatch)
    for epoch in range(2):
        data.set_epoch(epoch)
        for index in range(2):
            assert data[index] is not None
    assert recorder.opens == 4


def test_backends_are_checked_with_one_clear_error(videos, monkeypatch):
    with pytest.raises(UserError, match=r"video backend must be one of pyav, decord \(got 'ffmpeg'\)"):
        VideoFolder(videos, "ann.csv", backend="ffmpeg")
    assert check_backend("pyav") == "pyav"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "decord" else real_find_spec(name))
    with pytest.raises(UserError, match=r"needs the decord package \(pip install decord\)"):
        check_backend("decord")
    code, _, err = run_nas("train", "--backbone", "tiny", "--data", str(videos), "--video-backend", "ffmpeg",
                           "--out", str(videos / "run"))
    assert code == 2 and "--video-backend: invalid choice: 'ffmpeg'" in err


@needs_decord
def test_decord_gives_the_same_frames_and_clips_as_pyav(videos):
    for name in ("long_gop.mp4", "short_gop.mp4"):
        chosen = np.array([3, 5, 5, 17, 30, 31])
        pyav, decord = (read_frames(videos / name, lambda length: chosen, backend) for backend in ("pyav", "decord"))
        assert isinstance(decord, Frames) and decord.length == pyav.length == 32
        np.testing.assert_array_equal(decord.images, pyav.images)
    (videos / "ann.csv").write_text("short_gop.mp4,a\nlong_gop.mp4,b\n")
    for sampling in (ClipSampling("train", 4, 3, 28, 24), ClipSampling("full", stride=2), ClipSampling("clips", 4, clips=2)):
        pyav, decord = (VideoFolder(videos, "ann.csv", sampling=sampling, seed=2, backend=b) for b in ("pyav", "decord"))
        for index in range(2):
            assert torch.equal(pyav[index][0], decord[index][0])


@needs_decord
def test_decord_reports_an_unreadable_file(tmp_path):
    (tmp_path / "bad.mp4").write_bytes(b"\x00not a video" * 50)
    with pytest.raises(UnreadableVideo):
        read_frames(tmp_path / "bad.mp4", lambda length: np.arange(length), "decord")


def test_the_backend_reaches_every_split_of_a_video_folder(videos):
    from nas.data import open_data

    for split in ("train", "val"):
        (videos / f"{split}.csv").write_text("short_gop.mp4,a\nlong_gop.mp4,b\n")
    splits = open_data(str(videos), backend="decord" if HAS_DECORD else "pyav")
    assert splits.train.backend == splits.val.backend == ("decord" if HAS_DECORD else "pyav")
    with pytest.raises(UserError, match="video backend must be one of"):
        open_data(str(videos), backend="ffmpeg")
