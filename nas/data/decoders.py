"""Read the frames a clip needs from a video file, opening it once: PyAV (FFmpeg) or decord.

`read_frames(path, choose, backend, length)` opens the file, learns its length (the `length`
the caller cached, else the stream's declared frame count), asks ``choose(length)`` which
frames it wants (sorted indices) and decodes only from the keyframe before the first of them
to the last of them, converting only the wanted frames to RGB.

PyAV seeking: frame ``i`` of a constant-rate stream is shown at ``start_time + i / rate``, so
the reader seeks to the keyframe at or before that time and numbers the frames it decodes by
their timestamps.  It checks what it gets: the first frame must not be past the first wanted
one and the numbers must follow each other; if not (variable frame rate, broken timestamps),
or when the stream declares no frame count or rate, it decodes from frame 0 counting frames,
the way a plain decode numbers them.  A file that declares no frame count is decoded whole
once (its length is then known and returned, for the caller to cache).

decord (optional, ``pip install decord``) does its own indexing and seeking; it is used only
when asked for (`backend="decord"`) and gives the same frames on the files the tests write.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from nas.errors import UserError, first_line

BACKENDS = ("pyav", "decord")
Chooser = Callable[[int], np.ndarray]
"""Video length -> the (sorted, possibly repeated) indices of the frames wanted."""


class UnreadableVideo(Exception):
    """A video file that cannot be decoded, or that has no frames."""


@dataclass(frozen=True)
class Frames:
    """Decoded frames and the length of the video they come from."""

    images: np.ndarray  # (T, H, W, 3) uint8, one per chosen index
    length: int  # frames in the whole video


def check_backend(backend: str) -> str:
    """Raise `UserError` unless `backend` is a known decoder that can be imported; return it."""
    if backend not in BACKENDS:
        raise UserError(f"video backend must be one of {', '.join(BACKENDS)} (got {backend!r})")
    if backend == "decord" and importlib.util.find_spec("decord") is None:
        raise UserError("video backend 'decord' needs the decord package (pip install decord), which is not installed")
    return backend


def read_frames(path: str | Path, choose: Chooser, backend: str = "pyav", length: int | None = None) -> Frames:
    """The frames ``choose(length)`` of the video at `path`, with one open of the file.

    `length` is the video's frame count when the caller knows it (from an earlier read); a
    chosen index past the real end gives the last frame.  Raises `UnreadableVideo` for a file
    that cannot be decoded or that yields no frame.
    """
    reader = _read_decord if backend == "decord" else _read_pyav
    try:
        return reader(str(path), choose, length)
    except UnreadableVideo:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise UnreadableVideo(first_line(exc)) from None


def _read_pyav(path: str, choose: Chooser, length: int | None) -> Frames:
    """`read_frames` with PyAV: one open, unless the timestamps fail their check (then a second, from frame 0)."""
    rgb = _rgb_converter()
    with av.open(path) as container:
        stream = _video_stream(container)
        length = length or int(stream.frames or 0)
        if not length:  # no declared count: decode everything once, counting
            images = [image for _, image in _numbered(container, stream, rgb, 0, None, None)]
            if not images:
                raise UnreadableVideo("no frames")
            return Frames(np.stack(images)[_chosen(choose, len(images))], len(images))  # (T, H, W, 3)
        indices = _chosen(choose, length)
        decoded = _decode_range(container, stream, rgb, indices)
    if decoded is None:  # the timestamps did not number the frames: decode from 0 in a fresh open
        with av.open(path) as container:
            wanted = set(indices.tolist())
            decoded = dict(_numbered(container, _video_stream(container), rgb, 0, int(indices[-1]), wanted))
    return _gather(decoded, indices, length)


def _video_stream(container):
    """The first video stream, set to decode with FFmpeg's threads (slices and frames, as it chooses)."""
    if not container.streams.video:
        raise UnreadableVideo("no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _rgb_converter() -> Callable[[av.VideoFrame], np.ndarray]:
    """frame -> RGB image (H, W, 3) through one reformatter for all frames of a read.

    ``frame.to_ndarray(format="rgb24")`` gives the same pixels but sets up a new FFmpeg scaler
    for every frame, which costs more than decoding the frame (3.5x fewer frames per second at
    256x256, measured with benchmarks/decode.py's videos).
    """
    reformatter = VideoReformatter()
    return lambda frame: reformatter.reformat(frame, format="rgb24").to_ndarray()


def _chosen(choose: Chooser, length: int) -> np.ndarray:
    """``choose(length)`` as an index array; no frame chosen is an unreadable video (nothing to return)."""
    indices = np.asarray(choose(length), dtype=np.int64)
    if not len(indices):
        raise UnreadableVideo("no frames")
    return indices


def _decode_range(container, stream, rgb, indices: np.ndarray) -> dict[int, np.ndarray] | None:
    """Frames `indices` decoded from the keyframe before the first; None when seeking cannot be trusted."""
    first, last, wanted = int(indices[0]), int(indices[-1]), set(indices.tolist())
    step = _frame_step(stream)
    if first == 0 or step is None:
        return dict(_numbered(container, stream, rgb, first, last, wanted))
    start_pts = stream.start_time or 0
    container.seek(start_pts + round(first * step), stream=stream, backward=True, any_frame=False)
    decoded, previous = {}, None
    for frame in container.decode(stream):
        if frame.pts is None:
            return None
        index = round((frame.pts - start_pts) / step)
        if (previous is None and index > first) or (previous is not None and index != previous + 1):
            return None  # landed past the first wanted frame, or frames without their own timestamp
        previous = index
        if index in wanted:
            decoded[index] = rgb(frame)  # (H, W, 3)
        if index >= last:
            break
    return decoded


def _frame_step(stream) -> Fraction | None:
    """Timestamp units between two frames of a constant-rate stream; None when the stream does not say."""
    rate, base = stream.average_rate, stream.base_rate
    if not rate or not stream.time_base or (base and base != rate):  # no rate, or a variable frame rate
        return None
    return 1 / (Fraction(rate) * stream.time_base)


def _numbered(container, stream, rgb, first: int, last: int | None,
              wanted: set[int] | None) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB image) of the frames decoded from the current position, numbered by counting from 0."""
    for index, frame in enumerate(container.decode(stream)):
        if last is not None and index > last:
            break
        if index >= first and (wanted is None or index in wanted):
            yield index, rgb(frame)  # (H, W, 3)


def _gather(decoded: dict[int, np.ndarray], indices: np.ndarray, length: int) -> Frames:
    """The chosen frames in order; indices past the last decoded frame (a declared count too high) repeat it."""
    if not decoded:
        raise UnreadableVideo("no frames")
    newest = max(decoded)
    if newest < int(indices[-1]):  # the stream ended early: its real length is now known
        length = newest + 1
    images = [decoded[min(int(i), newest)] for i in indices]
    return Frames(np.stack(images), length)  # (T, H, W, 3)


def _read_decord(path: str, choose: Chooser, length: int | None) -> Frames:
    import decord  # optional: check_backend made sure it is there

    try:
        reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=0)
        total = len(reader)
        if not total:
            raise UnreadableVideo("no frames")
        indices = _chosen(choose, total)
        return Frames(reader.get_batch(indices.tolist()).asnumpy(), total)  # (T, H, W, 3)
    except (decord.DECORDError, RuntimeError) as exc:  # RuntimeError: a file it cannot open
        raise UnreadableVideo(first_line(exc)) from None
