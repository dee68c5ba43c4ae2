"""`nas list`: every registry printed from the registry itself, with choices and defaults."""

from __future__ import annotations

import pytest

from nas.backbones import BACKBONES
from nas.controllers import CONTROLLERS
from nas.objectives import OBJECTIVES
from nas.ops import OPS
from tests.conftest import run_nas


@pytest.mark.parametrize("what, registry", [("ops", OPS), ("backbones", BACKBONES), ("objectives", OBJECTIVES),
                                            ("controllers", CONTROLLERS)])
def test_every_registered_name_is_listed_once(what, registry):
    code, out, err = run_nas("list", what)
    assert code == 0, err
    heads = [line.split(":")[0] for line in out.splitlines() if not line.startswith(" ")]
    assert heads == registry.names()


def test_op_choices_show_their_values_and_defaults():
    _, out, _ = run_nas("list", "ops")
    block = out.split("\nmap:")[1].split("\n")[1:3]
    assert block[0].startswith("    dimension: temporal | spatial | spatiotemporal (default spatiotemporal)")
    _, out, _ = run_nas("list", "backbones")
    assert "i3d: " in out and "    insertion points: 4a, 4b, 4c, 4d, 4e" in out
    _, out, _ = run_nas("list", "controllers")
    assert "    initial (default 8)" in out

