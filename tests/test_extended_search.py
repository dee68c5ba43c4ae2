"""The extended space end to end: a GP-bandit search and a supergraph search on the synthetic data."""

from __future__ import annotations

import pytest

from nas.space import load_model_genotype, load_space
from nas.store import TrialStore
from tests.conftest import ROOT, run_nas
from tests.test_search_ray import TRAIN_SMALL, nas

pytestmark = pytest.mark.slow

EXTENDED = str(ROOT / "search_spaces" / "extended.yaml")
SG_EXTENDED = str(ROOT / "supergraphs" / "sg_extended.yaml")


def test_gp_bandit_search_over_the_extended_space_trains_its_cells(tmp_path):
    run = tmp_path / "gpb"
    done = nas("search", "gpb", "--space", EXTENDED, "--out", run, "--trials", "3", "--workers", "1", "--seed", "1",
               "--controller-option", "initial=2", *TRAIN_SMALL)
    assert done.returncode == 0, done.stderr[-3000:]
    with TrialStore.open(run / "trials.db") as store:
        records = store.trials()
    assert len(records) == 3 and all(r.state == "complete" for r in records)
    space = load_space(EXTENDED)
    kinds = {op.kind for r in records for op in r.genotype.ops}
    assert all(space.contains(r.genotype) for r in records)
    assert kinds - {"dot_product", "map"}, "no extended op kind was tried"
    best = load_model_genotype(str(run / "best_genotype.json"))
    assert set(best.cells) == {"*"}


def test_supergraph_search_over_the_extended_kinds_derives_cells_that_train(tmp_path):
    run = tmp_path / "diff"
    small = ["--num-videos", "72", "--frames", "4", "--size", "16", "--batch-size", "8", "--threads", "1"]
    code, out, err = run_nas("search", "diff", "--supergraph", SG_EXTENDED, "--epochs", "1", "--arch-lr", "0.05",
                             *small, "--out", run)
    assert code == 0, err
    derived = load_model_genotype(str(run / "best_genotype.json"))
    assert set(derived.cells) == {"s2", "s3"}
    code, _, err = run_nas("train", "--backbone", "tiny", "--cells", run / "best_genotype.json", "--epochs", "1",
                           *small, "--out", tmp_path / "train")
    assert code == 0, err
