"""NAS_SMOKE=1 shrinks the CLI's size defaults (for the README test) and never an explicit option."""

from __future__ import annotations

from runners.cli import build_parser
from runners.commands.search import resolve_config
from runners.commands.search_diff import apply_preset
from tests.conftest import SPACES


def test_smoke_sizes_are_defaults_only(monkeypatch):
    parse = lambda *argv: build_parser().parse_args(list(argv))  # noqa: E731
    plain = parse("train", "--backbone", "tiny", "--out", "x")
    assert (plain.epochs, plain.num_videos) == (8, 1800)
    monkeypatch.setenv("NAS_SMOKE", "1")
    small = parse("train", "--backbone", "tiny", "--out", "x")
    assert (small.epochs, small.num_videos) == (1, 64)
    assert parse("train", "--backbone", "tiny", "--out", "x", "--epochs", "3").epochs == 3  # explicit wins
    gpb = resolve_config(parse("search", "gpb", "--space", str(SPACES[0]), "--out", "r", "--preset", "quick"))
    assert gpb.trials == 2 and gpb.objective_options == {"num_videos": 64, "epochs": 1}
    given = resolve_config(parse("search", "gpb", "--space", str(SPACES[0]), "--out", "r", "--trials", "5",
                                 "--objective-option", "epochs=2"))
    assert given.trials == 5 and given.objective_options == {"num_videos": 64, "epochs": 2}
    diff = apply_preset(parse("search", "diff", "--supergraph", "s.yaml", "--out", "d", "--preset", "quick"))
    assert (diff.num_videos, diff.epochs) == (64, 1)
