"""Two CPU processes with DistributedDataParallel (gloo) agree with one process on the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT
from tests.ddp_worker import run


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tmp_path):
    run(str(tmp_path / "one.pt"))
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "tests.ddp_worker", str(tmp_path / "two.pt")]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    two = torch.load(tmp_path / "two.pt", weights_only=True)
    for name, weight in one["weights"].items():
        torch.testing.assert_close(two["weights"][name], weight, rtol=1e-4, atol=1e-5)
    assert not torch.equal(one["weights"]["4.weight"], torch.zeros_like(one["weights"]["4.weight"]))
    reads = [int((tmp_path / name).read_text()) for name in ("one.pt.reads0", "two.pt.reads0", "two.pt.reads1")]
    assert reads == [48, 24, 24]  # 2 epochs x 3 full batches of 8: each process reads half of every batch
    for a, b in zip(one["history"], two["history"]):
        assert a["val_count"] == b["val_count"] == 6  # the two processes' shares of the val set add up
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_top1"] == b["val_top1"]
