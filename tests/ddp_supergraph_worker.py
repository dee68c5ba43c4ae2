"""Train the tiny backbone with SG-1 at every position, alone or under torchrun.

``torchrun --nproc_per_node 2 -m tests.ddp_supergraph_worker OUT`` makes every process write
``OUT.rank<r>.json``: its architecture weights and the cells it derives from them.
"""

from __future__ import annotations

import json
import sys

from nas.data import SyntheticConfig, make_synthetic
from nas.distributed import world_from_env
from nas.supergraph import build_supergraph_model, derive_model, load_supergraph, model_weights
from nas.train import TrainConfig, seeded, train
from tests.conftest import ROOT

DATA = SyntheticConfig(num_videos=60, frames=4, size=16, seed=3)
RECIPE = TrainConfig(epochs=1, batch_size=8, lr=0.05, warmup_epochs=0.0, device="cpu", arch_lr=0.05)


def run(out: str) -> None:
    """Train one epoch; every process writes its weights and derived cells."""
    data = make_synthetic(DATA)
    with seeded(0):
        model = build_supergraph_model("tiny", load_supergraph(str(ROOT / "supergraphs" / "sg1.yaml")), num_classes=12)
    train(model, data["train"], data["val"], RECIPE)
    weights = {p: w.to_dict() for p, w in model_weights(model).items()}
    derived = derive_model(model, alpha=3, beta=2).to_dict()
    rank = world_from_env().rank
    with open(f"{out}.rank{rank}.json", "w", encoding="utf-8") as handle:
        json.dump({"weights": weights, "derived": derived}, handle)


if __name__ == "__main__":
    run(sys.argv[1])
