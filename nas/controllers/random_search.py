"""`random`: uniform random search over the space's variables (the baseline every search must beat)."""

from __future__ import annotations

import numpy as np

from nas.controllers.base import CONTROLLERS, Controller, draw_untried
from nas.space.genotype import Genotype


@CONTROLLERS.decorator("random")
class RandomSearch(Controller):
    """Each proposal is a uniform draw of the variables, redrawn until its key is untried."""

    replays_by_adoption = True

    def _propose(self, n: int, rng: np.random.Generator) -> list[Genotype]:
        return draw_untried(self.space, n, rng, set(self._keys))
