"""Video loading speed next to the decoder's: PyAV decode-only, the folder dataset's clips, decord.

Measures, side by side in interleaved rounds (so a busy machine slows them alike), clips per
second over every video of a folder of H.264 MP4 files:

- PyAV decode-only: open, decode every frame (threads "AUTO"), no conversion, in this process:
  what the decoder alone gives, the reference of every ratio;
- PyAV decode + RGB: the same, each frame converted to an RGB array through one reformatter (as
  the loader does), and with ``frame.to_ndarray(format="rgb24")``, which sets up a scaler per frame;
- the `VideoFolder` training clips (``--clip-frames`` frames every ``--stride``, random
  ``--crop``, flips, float clips) through a `DataLoader` with 0 and with 2 worker processes
  (the workers start inside the measured time, as they do every epoch of `nas.train`);
- the `VideoFolder` full-length evaluation (``mode="full"``: every frame, float), 0 workers;
- decord decode-only (every frame, `get_batch`) and the training clips with ``backend="decord"``,
  when decord is installed.

Without ``--folder`` (or with an empty one) it first writes ``--videos`` synthetic videos of
``--length`` frames at ``--size`` x ``--size`` with PyAV (moving textured shapes, x264 ``--crf``,
x264's default keyframe interval unless ``--keyframe-interval``).

A batch of float clips is a large fresh allocation, whose page faults torch's transparent huge
pages (``THP_MEM_ALLOC_ENABLE=1`` in the environment, Linux) make cheaper; the header line says
whether it was set.

    python benchmarks/decode.py [--folder DIR] [--videos 50] [--length 64] [--size 256] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import av
import numpy as np
from av.video.reformatter import VideoReformatter
import torch
from torch.utils.data import DataLoader

from nas.data import ClipSampling, VideoFolder, collate_clips
from nas.data.decoders import BACKENDS, check_backend
from nas.data.video_io import write_video
from nas.errors import UserError
from runners.engine.machine import machine


def synthetic_video(length: int, size: int, seed: int) -> np.ndarray:
    """Moving textured squares over a drifting gradient, with a little noise: uint8 (T, size, size, 3)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)  # (size, size) each
    texture = rng.integers(0, 256, (size // 8, size // 8, 3)).repeat(8, 0).repeat(8, 1).astype(np.float32)
    colours, speeds = rng.uniform(40, 215, (4, 3)), rng.uniform(-3, 3, (4, 2))
    frames = np.empty((length, size, size, 3), np.uint8)
    for t in range(length):
        image = (0.5 * (x + 2 * t) + 0.3 * y)[..., None] % 256 * np.array([0.8, 0.5, 0.3])  # (size, size, 3)
        for colour, (dy, dx) in zip(colours, speeds):
            top, left = int(size / 4 + dy * t) % (size // 2), int(size / 4 + dx * t) % (size // 2)
            window = (slice(top, top + size // 3), slice(left, left + size // 3))
            image[window] = 0.6 * colour + 0.4 * texture[window]
        frames[t] = np.clip(image + rng.normal(0, 2, image.shape), 0, 255)
    return frames


def prepare(folder: Path, scratch: Path, args: argparse.Namespace) -> list[Path]:
    """The folder's MP4 files (writing synthetic ones first when it has none), listed in ``scratch/all.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    videos = sorted(folder.glob("*.mp4"))[: args.videos]
    if not videos:
        for i in range(args.videos):
            write_video(folder / f"v{i:03d}.mp4", synthetic_video(args.length, args.size, seed=i), fps=25,
                        crf=args.crf, keyframe_interval=args.keyframe_interval)
        videos = sorted(folder.glob("*.mp4"))
    (scratch / "all.csv").write_text("".join(f"{path.resolve()},video\n" for path in videos))
    return videos


def pyav_decode(videos: list[Path], rgb: str | None) -> None:
    """Decode every frame of every video with PyAV; `rgb`: None (no conversion), "shared" or "per-frame"."""
    reformatter = VideoReformatter()
    for path in videos:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if rgb == "shared":
                    reformatter.reformat(frame, format="rgb24").to_ndarray()
                elif rgb == "per-frame":
                    frame.to_ndarray(format="rgb24")


def decord_decode(videos: list[Path]) -> None:
    """Decode every frame of every video with decord."""
    import decord

    for path in videos:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=0)
        reader.get_batch(list(range(len(reader)))).asnumpy()


def loader(scratch: Path, sampling: ClipSampling, workers: int, backend: str = "pyav") -> Callable[[], None]:
    """One pass over the folder's videos through a DataLoader of `VideoFolder` clips."""
    dataset = VideoFolder(scratch, "all.csv", sampling=sampling, backend=backend)
    dataset.verify()  # as `nas.data.open_data` does: reads each header once, caching the frame counts

    def run() -> None:
        for epoch_batch in DataLoader(dataset, batch_size=8, collate_fn=collate_clips, num_workers=workers):
            del epoch_batch

    return run


def measurements(scratch: Path, args: argparse.Namespace, videos: list[Path]) -> dict[str, Callable[[], None]]:
    """What to time, by name; the first is the reference of the ratios."""
    train = ClipSampling("train", args.clip_frames, args.stride, args.short_side, args.crop, flip="on")
    full = ClipSampling("full", short_side=args.short_side)
    runs = {
        "PyAV decode-only": lambda: pyav_decode(videos, None),
        "PyAV decode + RGB, one reformatter": lambda: pyav_decode(videos, "shared"),
        "PyAV decode + RGB, to_ndarray per frame": lambda: pyav_decode(videos, "per-frame"),
        "loader training clips, 0 workers": loader(scratch, train, 0),
        "loader training clips, 2 workers": loader(scratch, train, 2),
        "loader full-length evaluation, 0 workers": loader(scratch, full, 0),
    }
    try:
        check_backend("decord")
    except UserError:
        return runs
    runs["decord decode-only"] = lambda: decord_decode(videos)
    runs["loader training clips, decord, 0 workers"] = loader(scratch, train, 0, "decord")
    return runs


def main() -> None:
    """Write or find the videos, time every measurement in interleaved rounds, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="folder of .mp4 files (written there first when it has none)")
    parser.add_argument("--videos", type=int, default=50, help="videos to read (default 50)")
    parser.add_argument("--length", type=int, default=64, help="frames of each written video (default 64)")
    parser.add_argument("--size", type=int, default=256, help="height and width of the written videos (default 256)")
    parser.add_argument("--crf", type=int, default=23, help="x264 quality of the written videos (default 23)")
    parser.add_argument("--keyframe-interval", type=int, help="frames between keyframes (default: x264's)")
    parser.add_argument("--clip-frames", type=int, default=32, help="frames of a training clip (default 32)")
    parser.add_argument("--stride", type=int, default=2, help="take every n-th frame (default 2)")
    parser.add_argument("--short-side", type=int, help="resize frames to this short side (default: no resize)")
    parser.add_argument("--crop", type=int, default=224, help="training crop (default 224)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        scratch = Path(name)
        videos = prepare(args.folder or scratch / "videos", scratch, args)
        runs = measurements(scratch, args, videos)
        load_before = os.getloadavg()
        rates: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, run in runs.items():
                started = time.perf_counter()
                run()
                rates[name].append(len(videos) / (time.perf_counter() - started))
        report(args, videos, rates, load_before)


def report(args: argparse.Namespace, videos: list[Path], rates: dict[str, list[float]], load_before) -> None:
    """Print the setting, the machine and its load, and each measurement's median and ratio."""
    with av.open(str(videos[0])) as container:
        stream = container.streams.video[0]
        shape = f"{stream.frames} frames of {stream.width}x{stream.height} {stream.codec_context.name}"
    info = machine()
    print(f"# python benchmarks/decode.py: {len(videos)} videos ({shape}), median of {args.rounds} rounds, "
          f"clips per second")
    print(f"# training clips: {args.clip_frames} frames every {args.stride}, short side {args.short_side}, "
          f"crop {args.crop}, flips; full-length evaluation: every frame, short side {args.short_side}")
    print(f"# machine: {info['cpus']} CPUs ({info['cpu_capability']}), torch {info['torch']} "
          f"({torch.get_num_threads()} threads in this process, 1 in a loader worker), PyAV {av.__version__}"
          f"; load average (1 min) {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE', 'unset')}")
    base = statistics.median(rates["PyAV decode-only"])
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:42s} {rate:7.1f} clips/s  {rate / base:5.2f}x PyAV decode-only")
    if "decord decode-only" not in rates:
        print(f"# decord is not installed (backends: {', '.join(BACKENDS)}; pip install decord)")


if __name__ == "__main__":
    main()
