"""The relational synthetic task: are two squares far apart the same colour?

A small 3D network sees a patch of each frame at a time (the tiny backbone's last units see
19 x 19 pixels of a 32 x 32 frame: at most the near edges of two squares in opposite corners,
never both whole) and then averages over the clip (a linear classifier on the average).  Such a network adds up what it saw; it cannot tell whether two things far
apart had the same colour, because "same" is not a sum of a function of the first thing and a
function of the second (red-red and green-green against red-green and green-red is XOR).
Attention computes products of the features of two places or moments, which is such a
relation, and the cell's channel gating multiplies every point by a function of the whole
clip's mean, which can be one too.  The task's *match pairs* are two classes that differ only
in whether two squares in opposite corners have the same colour:

- ``same_space`` / ``diff_space``: the two squares are in every frame;
- ``same_both`` / ``diff_both``: one square in the first half of the clip, the other in the
  opposite corner in the second half (apart in space and in time).

Each square is red or green (`HUES`, brightness jittered), drawn uniformly, so each square
alone has the same distribution in both classes of a pair.  Two more kinds of class make the
relation learnable and keep the controls meaningful:

- ``red`` / ``green``: one square of that colour somewhere, all clip long.  Without classes
  that need colour on its own, no layer learns colour features early in training and the
  relation is not learnt at all in a proxy's budget (results/signal.md);
- ``move_right`` / ``move_left``: a digit moving (as in the motion task), a time-reversed pair,
  so a frame-order-blind model is at chance within it.

Backgrounds are one random grey level.  The backbone alone reaches at most 6/8 = 0.75 top-1
(the moving and the colour classes, chance on the two match pairs), and is measured there
(0.742 search-val top-1, results/signal.md); a cell that relates the corners can reach 1.
"""

from __future__ import annotations

import numpy as np

from nas.data.render import SpriteTrack

HUES = ((1.0, 0.12, 0.12), (0.12, 1.0, 0.12))  # red, green
MATCH_PAIRS = (("same_space", "diff_space"), ("same_both", "diff_both"))
COLOR_CLASSES = ("red", "green")
SQUARE = np.ones((6, 6))  # the sprite of every square (a filled square)
CORNER = 0.62  # normalised distance of a corner square's centre from the canvas centre (x and y)
SQUARE_HALF = (0.3, 0.36)  # range of a square's half side (fraction of the canvas half side)


def hue_color(rng: np.random.Generator, hue_index: int) -> np.ndarray:
    """The RGB colour (3,) of hue category `hue_index`, its brightness jittered by up to 15%."""
    return np.asarray(HUES[hue_index]) * rng.uniform(0.85, 1.0)


def two_hues(rng: np.random.Generator, same: bool) -> tuple[int, int]:
    """Hue categories of the two squares: equal, or different (each uniform either way)."""
    first = int(rng.integers(len(HUES)))
    if same:
        return first, first
    return first, int((first + rng.integers(1, len(HUES))) % len(HUES))


def halves(frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (T,) masks of the first and the second half of a clip."""
    t = np.arange(frames)
    return t < frames // 2, t >= frames // 2


def _corners(rng: np.random.Generator) -> tuple[tuple[float, float], tuple[float, float]]:
    """Centres of two squares in opposite corners (which diagonal and which end, at random)."""
    sx, sy = (1.0 if rng.random() < 0.5 else -1.0), (1.0 if rng.random() < 0.5 else -1.0)
    jitter = rng.uniform(-0.06, 0.06, size=4)
    return (sx * CORNER + jitter[0], sy * CORNER + jitter[1]), (-sx * CORNER + jitter[2], -sy * CORNER + jitter[3])


def _match(rng: np.random.Generator, frames: int, same: bool, apart_in_time: bool) -> list[SpriteTrack]:
    places = _corners(rng)
    times = halves(frames) if apart_in_time else (1.0, 1.0)  # shown in some frames, or in all
    half = rng.uniform(*SQUARE_HALF)
    hues = two_hues(rng, same)
    return [SpriteTrack.over(frames, SQUARE, hue_color(rng, hue), x, y, half, shown)
            for (x, y), shown, hue in zip(places, times, hues)]


def _one_color(rng: np.random.Generator, frames: int, hue: int) -> list[SpriteTrack]:
    x, y = rng.uniform(-0.6, 0.6, size=2)
    half = rng.uniform(*SQUARE_HALF)
    return [SpriteTrack.over(frames, SQUARE, hue_color(rng, hue), x, y, half)]


def same_space(rng, digits, frames):
    """One colour in two opposite corners, all clip long."""
    return _match(rng, frames, True, apart_in_time=False)


def diff_space(rng, digits, frames):
    """Two colours in two opposite corners, all clip long."""
    return _match(rng, frames, False, apart_in_time=False)


def same_both(rng, digits, frames):
    """One colour in a corner in the first half and in the opposite corner in the second."""
    return _match(rng, frames, True, apart_in_time=True)


def diff_both(rng, digits, frames):
    """Two colours in a corner in the first half and in the opposite corner in the second."""
    return _match(rng, frames, False, apart_in_time=True)


def red(rng, digits, frames):
    """One red square somewhere, all clip long."""
    return _one_color(rng, frames, 0)


def green(rng, digits, frames):
    """One green square somewhere, all clip long."""
    return _one_color(rng, frames, 1)


RELATIONAL_MOTIONS = {
    "same_space": same_space,
    "diff_space": diff_space,
    "same_both": same_both,
    "diff_both": diff_both,
    "red": red,
    "green": green,
}
