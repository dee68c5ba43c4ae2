"""A malformed-input corpus through every verb that reads a user file or takes a number or an
output path: each input must give exit code 2, exactly one line on stderr, no traceback, nothing
written, within a time bound.

The corpus is generated here (bad files x the verbs that read them, bad numbers x the options,
bad output paths x the verbs that write), run in this process through `runners.cli.main` (the
`nas` entry point) so that hundreds of cases take seconds; FIFOs, which could block a reader
forever, run in a subprocess with a timeout.  Time and memory are bounded per case (30 s, a peak
resident size grown by under 1 GiB): bounds against hangs and blow-ups, not speed claims.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runners.cli import main
from tests.conftest import ROOT

GPB = ROOT / "search_spaces" / "attentionnas_gpb.yaml"
CELL = ROOT / "results" / "synthetic" / "temporal_dot_product.json"
SG1 = ROOT / "supergraphs" / "sg1.yaml"
BOMB = "name: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefg", "bcdefgh")) + "schema: *h\n"

BAD_YAML = {
    "missing": None,
    "folder": "<dir>",
    "empty": b"",
    "not-utf8": b"name: caf\xe9\n",
    "duplicate-key": GPB.read_text() + "\nname: again\n",
    "alias-bomb": BOMB,
    "deep": "x: " + "[" * 3000 + "]" * 3000,
    "huge-int": "x: " + "9" * 5000,
    "a-list": "- 1\n- 2\n",
    "huge-name": "schema: " + "s" * 200_000 + "\n",
    "syntax": "a: [1, 2\n",
    "too-many-ops": GPB.read_text().replace("num_ops: 4", "num_ops: 1000000"),
    "too-many-nodes": SG1.read_text().replace("levels: 2", "levels: 5000"),
    "30000-choices": GPB.read_text().replace("gating: [false, true]", "gating: [" + ", ".join(map(str, range(30000))) + "]"),
}
BAD_JSON = {
    "missing": None,
    "folder": "<dir>",
    "empty": b"",
    "not-utf8": b'{"schema": "caf\xe9"}',
    "duplicate-key": '{"schema": "a", "schema": "b"}',
    "deep": "[" * 5000 + "]" * 5000,
    "huge-int": '{"x": ' + "9" * 5000 + "}",
    "a-list": "[1, 2]",
    "huge-value": json.dumps({**json.loads(CELL.read_text()), "kv_source": "k" * 200_000}),
    "syntax": '{"schema": }',
}
REASONS = {  # what the one line must say for each kind of bad file (None: the schema's own words)
    "missing": "not found", "folder": "is a folder", "empty": None, "not-utf8": "not UTF-8 text",
    "duplicate-key": "duplicate key", "alias-bomb": "expands to more than", "deep": "nested more than 64 levels",
    "huge-int": "more than 4300 digits", "a-list": "expected a mapping", "huge-name": "...", "huge-value": "...",
    "syntax": "invalid", "too-many-ops": None, "too-many-nodes": None, "30000-choices": None,
}
YAML_VERBS = {
    "space validate": ["space", "validate", "{f}"],
    "space size": ["space", "size", "{f}"],
    "space sample": ["space", "sample", "{f}"],
    "search gpb": ["search", "gpb", "--space", "{f}", "--out", "run"],
    "supergraph validate": ["supergraph", "validate", "{f}"],
    "search diff": ["search", "diff", "--supergraph", "{f}", "--out", "run", "--preset", "quick"],
}
JSON_VERBS = {
    "genotype validate": ["genotype", "validate", "{f}"],
    "flops --cells": ["flops", "--backbone", "i3d", "--cells", "{f}"],
    "train --cells": ["train", "--backbone", "tiny", "--cells", "{f}", "--num-videos", "40", "--out", "run"],
    "viz": ["viz", "{f}", "-o", "cell.png"],
    "export-model --cells": ["export-model", "--backbone", "tiny", "--cells", "{f}", "-o", "model.pt2"],
    "compare --cells": ["compare", "--backbone", "tiny", "--cells", "{f}", "--num-videos", "40", "--out", "cmp"],
}
NUMBERS = [
    ["train", "--backbone", "tiny", "--out", "run", *extra] for extra in (
        ["--seed", "-1"], ["--seed", "99999999999"], ["--width", "nan"], ["--width", "inf"], ["--lr", "nan"],
        ["--epochs", "0"], ["--frames", "10000000"], ["--size", "1000000"], ["--num-videos", "-5"],
        ["--batch-size", "0"], ["--loader-workers", "1000000"], ["--workers", "2"], ["--threads", "0"], ["--label-smoothing", "1.5"],
        ["--weight-decay", "-1"], ["--warmup-epochs", "inf"], ["--frames", "1000", "--size", "512"])
] + [
    ["search", "gpb", "--space", str(GPB), "--out", "run", *extra] for extra in (
        ["--seed", "-1"], ["--trials", "0"], ["--workers", "1000000"], ["--cpus-per-trial", "inf"],
        ["--cpus-per-trial", "nan"], ["--flops-penalty", "nan"], ["--max-gflops", "-1"], ["--retries", "-1"],
        ["--controller-option", "initial=abc"], ["--controller-option", "initial=[1, 2]"],
        ["--objective", "toy", "--objective-option", "sleep=.nan"], ["--objective-option", "seed=1", "--objective-option", "seed=2"],
        ["--reduction-factor", "nan"], ["--reduction-factor", "inf"], ["--grace-period", "-1"], ["--scheduler", ""])
] + [
    ["data", "synth", "--out", "data", *extra] for extra in (["--fps", "0"], ["--num", "0"], ["--size", "7"], ["--frames", "0"])
] + [
    ["flops", "--backbone", "s3d", *extra] for extra in (
        ["--option", "first_temporal_kernel=abc"], ["--width", "inf"], ["--frames", "0"], ["--option", "gating"])
] + [
    ["export-model", "--backbone", "tiny", "-o", "model.pt2", *extra] for extra in (
        ["--frames", "0"], ["--size", "100000"], ["--batch", "-1"], ["--width", "nan"], ["--classes", "0"],
        ["--seed", "-1"], ["--format", "onnx"], ["--option", "dropout=abc"])
] + [
    ["flops", "--op", "map", "--feature-shape", "100000x1000x1000x1000"],
    ["space", "sample", str(GPB), "--seed", "-1"],
    ["compare", "--backbone", "tiny", "--out", "cmp", "--seeds", "0"],
    ["compare", "--backbone", "tiny", "--out", "cmp", "--jobs", "-2"],
    ["search", "diff", "--supergraph", str(SG1), "--out", "run", "--alpha", "0"],
]
OUTPUTS = [
    ["space", "sample", str(GPB), "-o", "{dir}"],
    ["space", "sample", str(GPB), "-o", "{file}/x.json"],
    ["viz", str(CELL), "-o", "{dir}"],
    ["viz", str(CELL), "-o", "{file}/x.png"],
    ["flops", "--table", "{dir}", "--cells", str(CELL)],
    ["train", "--backbone", "tiny", "--out", "{file}"],
    ["train", "--backbone", "tiny", "--out", "{file}/run"],
    ["search", "gpb", "--space", str(GPB), "--out", "{file}"],
    ["data", "synth", "--out", "{file}/data"],
    ["compare", "--backbone", "tiny", "--out", "{file}"],
    ["export-model", "--backbone", "tiny", "-o", "{dir}"],
    ["export-model", "--backbone", "tiny", "-o", "{file}/model.pt2"],
]


def write_input(folder: Path, name: str, content: object, suffix: str) -> Path:
    """The bad input file (or folder, or nothing) for one case."""
    path = folder / f"input{suffix}"
    if content == "<dir>":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    return path


def snapshot(folder: Path) -> dict[str, int]:
    """Every file and folder under `folder` with its size, to see whether a refusal wrote anything."""
    return {str(p.relative_to(folder)): (p.stat().st_size if p.is_file() else -1) for p in folder.rglob("*")}


def refuse(argv: list[str], folder: Path, monkeypatch, capsys) -> str:
    """Run `nas argv` in `folder`; assert exit 2, one stderr line, no traceback, nothing written, quick."""
    monkeypatch.chdir(folder)
    before = snapshot(folder)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    started = time.perf_counter()
    code = _main_exit(argv)
    elapsed = time.perf_counter() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (argv, err)
    assert len(lines[0]) < 1000, lines[0][:200]
    assert snapshot(folder) == before, argv
    assert elapsed < 30, (argv, elapsed)  # a bound against hangs, not a speed claim
    assert grown < 1024 * 1024, (argv, grown)  # and against memory blow-ups: the peak grew by under 1 GiB
    return lines[0]


def _main_exit(argv: list[str]) -> int:
    """`main`, with argparse's SystemExit turned into the exit code."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("kind", sorted(BAD_YAML))
@pytest.mark.parametrize("verb", sorted(YAML_VERBS))
def test_bad_yaml_files(tmp_path, monkeypatch, capsys, verb, kind):
    path = write_input(tmp_path, kind, BAD_YAML[kind], ".yaml")
    line = refuse([a.replace("{f}", str(path)) for a in YAML_VERBS[verb]], tmp_path, monkeypatch, capsys)
    assert REASONS[kind] is None or REASONS[kind] in line, line


@pytest.mark.parametrize("kind", sorted(BAD_JSON))
@pytest.mark.parametrize("verb", sorted(JSON_VERBS))
def test_bad_json_files(tmp_path, monkeypatch, capsys, verb, kind):
    path = write_input(tmp_path, kind, BAD_JSON[kind], ".json")
    line = refuse([a.replace("{f}", str(path)) for a in JSON_VERBS[verb]], tmp_path, monkeypatch, capsys)
    assert REASONS[kind] is None or REASONS[kind] in line, line


@pytest.mark.parametrize("argv", NUMBERS, ids=lambda a: " ".join(a[:2] + a[-2:]))
def test_bad_numbers(tmp_path, monkeypatch, capsys, argv):
    refuse(argv, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("argv", OUTPUTS, ids=lambda a: " ".join(a[:2] + a[-1:]))
def test_bad_output_paths(tmp_path, monkeypatch, capsys, argv):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    filled = [a.replace("{dir}", str(tmp_path / "adir")).replace("{file}", str(tmp_path / "afile")) for a in argv]
    line = refuse(filled, tmp_path, monkeypatch, capsys)
    assert "cannot write" in line or "holds" in line, line


@pytest.mark.parametrize("argv", [["space", "validate", "{f}"], ["genotype", "validate", "{f}"],
                                  ["train", "--backbone", "tiny", "--cells", "{f}", "--out", "run"]])
def test_a_fifo_is_refused_without_being_opened(tmp_path, argv):
    fifo = tmp_path / "input.yaml"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "runners.cli", *[a.replace("{f}", str(fifo)) for a in argv]],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "not a regular file" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.yaml"]
