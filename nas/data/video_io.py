"""Read and write video files with PyAV (FFmpeg).

Files are written as H.264 in MP4 (yuv420p, so width and height must be even), the way
video datasets are distributed; written atomically, like every file of the project.  Reading
goes through `nas.data.decoders.read_frames` (one open, seeking to the frames wanted).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from nas.data.decoders import UnreadableVideo, read_frames
from nas.errors import first_line
from nas.io import atomic_write_with

__all__ = ["UnreadableVideo", "count_frames", "read_video", "write_video"]


def write_video(
    path: str | Path, frames: np.ndarray, fps: int = 8, crf: int = 12, keyframe_interval: int | None = None
) -> Path:
    """Write uint8 RGB frames (T, H, W, 3) to an H.264 MP4 file at `path` (atomically).

    `keyframe_interval`: frames from one keyframe to the next (None: x264's choice, 250 at most).
    """
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got {frames.shape}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"H.264 needs even frame sizes, got {frames.shape[1]}x{frames.shape[2]}")

    def encode(tmp: Path) -> None:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps))
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            options = {"crf": str(crf), "preset": "fast"}
            if keyframe_interval is not None:  # short GOPs: a reader can seek to the middle of a short video
                options["x264-params"] = f"keyint={keyframe_interval}:min-keyint={keyframe_interval}:scenecut=0"
            stream.options = options
            stream.thread_type = "NONE"
            for image in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            container.mux(stream.encode())  # flush the encoder

    return atomic_write_with(path, encode)


def read_video(path: str | Path, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Decode frames ``start .. stop-1`` (all from `start` when `stop` is None): uint8 (T, H, W, 3).

    Raises `UnreadableVideo` for a file FFmpeg cannot decode or that yields no frame.
    """
    return read_frames(path, lambda length: np.arange(start, length if stop is None else min(stop, length))).images


def count_frames(path: str | Path) -> int:
    """The number of frames the container declares (0 when it does not say); opens the header only."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UnreadableVideo("no video stream")
            return int(container.streams.video[0].frames or 0)
    except UnreadableVideo:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise UnreadableVideo(first_line(exc)) from None
