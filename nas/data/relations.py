"""The relational synthetic task: classes that need two moments of a clip far apart in time.

A small 3D network sees a few frames at a time (the tiny backbone's temporal receptive field
is 7 frames) and then averages over the clip (a linear classifier on the average), which can
count what happened but not relate two things that happened far apart.  Attention over time relates any two frames.  The
relational classes therefore come in *match pairs*: the two classes of a pair show the same
kind of event twice, at least half a clip apart, and differ only in whether the two showings
have the same colour:

- ``flash_same`` / ``flash_diff``: a digit flashes at the start of the clip and a digit
  flashes at the same place at its end (each for max(1, T/8) frames);
- ``return_same`` / ``return_other``: a digit slides out of the frame over one edge, the
  clip stays empty for at least T/2 frames, and a digit slides back in over the same edge at
  the same height: the same digit in the same colour, or another digit in another colour.

The colour of each showing is one of `HUES` (with a little jitter), drawn uniformly, so every
single frame has the same distribution in both classes of a pair: only the relation between
two distant frames tells them apart.  Two pairs of time-reversed motion classes
(``move_right``/``move_left``, ``grow``/``shrink``) keep a frame-order-blind control at
chance within each pair, as in the motion task.
"""

from __future__ import annotations

import colorsys

import numpy as np

from nas.data.render import SpriteTrack

HUES = (0.0, 1 / 3, 2 / 3)  # red, green, blue
MATCH_PAIRS = (("flash_same", "flash_diff"), ("return_same", "return_other"))


def hue_color(rng: np.random.Generator, hue_index: int) -> np.ndarray:
    """A bright, saturated RGB colour (3,) of hue category `hue_index`, jittered slightly."""
    hue = (HUES[hue_index] + rng.uniform(-0.03, 0.03)) % 1.0
    return np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.75, 0.95), rng.uniform(0.8, 1.0)))


def _two_hues(rng: np.random.Generator, same: bool) -> tuple[int, int]:
    """Hue categories of the two showings: equal, or two different ones (each uniform)."""
    first = int(rng.integers(len(HUES)))
    if same:
        return first, first
    return first, int((first + rng.integers(1, len(HUES))) % len(HUES))


def _track(image, color, frames, x, y, half, opacity) -> SpriteTrack:
    def full(v):
        return np.broadcast_to(np.asarray(v, dtype=np.float64), (frames,)).copy()

    return SpriteTrack(image, color, full(x), full(y), full(half), full(opacity))


def flash_times(frames: int) -> tuple[int, int, int]:
    """(duration, first start, second start): the first frames and the last frames of the clip.

    Every flash lasts max(1, T // 8) frames; for T = 8 they are frames 0 and 7, which no unit
    of the tiny backbone sees together (its last stage's units see 7 consecutive frames).
    """
    duration = max(1, frames // 8)
    return duration, 0, frames - duration


def _flash(rng: np.random.Generator, digits: np.ndarray, frames: int, same: bool) -> list[SpriteTrack]:
    duration, *starts = flash_times(frames)
    tracks = []
    x, y = rng.uniform(-0.55, 0.55, size=2)  # both flashes at one place
    half = rng.uniform(0.3, 0.4)
    for start, hue in zip(starts, _two_hues(rng, same)):
        opacity = np.zeros(frames)
        opacity[start : start + duration] = 1.0
        image = digits[rng.integers(len(digits))]
        tracks.append(_track(image, hue_color(rng, hue), frames, x, y, half, opacity))
    return tracks


def _return(rng: np.random.Generator, digits: np.ndarray, frames: int, same: bool) -> list[SpriteTrack]:
    """Slide out over an edge by frame `out`, stay empty, slide back in from frame `back` on."""
    out = max(1, frames // 4 + int(rng.integers(-1, 2)))
    back = min(frames - 1, out + 1 + max(1, frames // 2))
    side = 1.0 if rng.random() < 0.5 else -1.0
    half = rng.uniform(0.3, 0.38)
    beyond = side * (1.0 + half + 0.05)  # just off the canvas
    t = np.arange(frames)
    leave = np.interp(t, [0, out], [side * rng.uniform(-0.2, 0.3), beyond])
    enter = np.interp(t, [back - 1, frames - 1], [beyond, side * rng.uniform(-0.2, 0.3)])
    y_leave = y_enter = rng.uniform(-0.5, 0.5)
    hues = _two_hues(rng, same)
    first = digits[rng.integers(len(digits))]
    second = first if same else digits[rng.integers(len(digits))]
    colors = [hue_color(rng, hues[0])]
    colors.append(colors[0] if same else hue_color(rng, hues[1]))
    return [
        _track(first, colors[0], frames, leave, y_leave, half, (t <= out).astype(float)),
        _track(second, colors[1], frames, enter, y_enter, half, (t >= back - 1).astype(float)),
    ]


def flash_same(rng, digits, frames):
    """Two flashes of one hue, far apart in time."""
    return _flash(rng, digits, frames, same=True)


def flash_diff(rng, digits, frames):
    """Two flashes of different hues, far apart in time."""
    return _flash(rng, digits, frames, same=False)


def return_same(rng, digits, frames):
    """A digit leaves the frame and the same digit comes back."""
    return _return(rng, digits, frames, same=True)


def return_other(rng, digits, frames):
    """A digit leaves the frame and another digit, in another hue, comes in."""
    return _return(rng, digits, frames, same=False)


RELATIONAL_MOTIONS = {
    "flash_same": flash_same,
    "flash_diff": flash_diff,
    "return_same": return_same,
    "return_other": return_other,
}
