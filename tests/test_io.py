"""Atomic writes: the result is complete, readable like a normal file, and no temporary remains."""

from __future__ import annotations

import os

import pytest

from nas.io import atomic_write_text, atomic_write_with


def test_atomic_write_leaves_only_the_file_with_normal_permissions(tmp_path):
    path = atomic_write_text(tmp_path / "sub" / "a.txt", "hello\n")
    assert path.read_text() == "hello\n"
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert os.listdir(path.parent) == ["a.txt"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = atomic_write_text(tmp_path / "b.json", "old")

    def writer(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write_with(path, writer)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["b.json"]


# --- the bounded, typed reader ---------------------------------------------------------------

import time  # noqa: E402

from nas.errors import UserError  # noqa: E402
from nas.io import (  # noqa: E402
    MAX_DEPTH,
    check_output_dir,
    check_output_file,
    load_json,
    load_yaml,
    parse_assignments,
    parse_json,
    parse_yaml,
    read_text,
    short,
)

BOMB = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefg", "bcdefgh")) + "name: *h\n"


@pytest.mark.parametrize("text, fragment", [
    ("a: 1\na: 2\n", "line 2: duplicate key 'a'"),
    (BOMB, "expands to more than 1000000 values"),
    ("[" * 5000 + "]" * 5000, f"nested more than {MAX_DEPTH} levels deep"),
    ("x: " + "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2), f"nested more than {MAX_DEPTH} levels deep"),
    ("x: " + "9" * 5000, "a number has more than 4300 digits"),
    ("x: [1, 2\n", "invalid YAML in doc line 2"),
])
def test_yaml_problems_are_one_line_and_quick(text, fragment):
    started = time.perf_counter()
    with pytest.raises(UserError) as caught:
        parse_yaml(text, "doc")
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    assert time.perf_counter() - started < 10  # a bound against hangs, not a speed claim


def test_yaml_merge_keys_and_shared_values_within_the_bounds_are_read():
    assert parse_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "doc") == {"base": {"x": 1}, "other": {"x": 1, "y": 2}}
    assert parse_yaml("a: &a [1, 2]\nb: [*a, *a]\n", "doc")["b"] == [[1, 2], [1, 2]]


@pytest.mark.parametrize("text, fragment", [
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ("[" * 5000 + "]" * 5000, "nested more than"),
    ('{"x": ' + "9" * 5000 + "}", "a number has more than 4300 digits"),
    ('{"x": 1,}', "invalid JSON in doc line 1"),
])
def test_json_problems_are_one_line(text, fragment):
    with pytest.raises(UserError, match=fragment.replace("[", r"\[")):
        parse_json(text, "doc")


def test_files_that_are_not_regular_small_utf8_files_are_refused_before_reading(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        load_yaml(fifo)  # opening it would block forever
    with pytest.raises(UserError, match="is a folder, not a file"):
        load_json(tmp_path)
    with pytest.raises(UserError, match="not found"):
        read_text(tmp_path / "missing.txt")
    latin = tmp_path / "classes.txt"
    latin.write_bytes(b"caf\xe9\n")
    with pytest.raises(UserError, match=r"not UTF-8 text \(byte 3"):
        read_text(latin)
    big = tmp_path / "big.json"
    big.write_text("[" + "1," * 600 + "1]")
    with pytest.raises(UserError, match="more than the 1000 this reader takes"):
        read_text(big, limit=1000)


def test_output_paths_are_checked_before_any_work(tmp_path):
    afile = tmp_path / "a.txt"
    afile.write_text("x")
    with pytest.raises(UserError, match="it is a folder"):
        check_output_file(tmp_path)
    with pytest.raises(UserError, match="is a file, not a folder"):
        check_output_file(afile / "b.json")
    with pytest.raises(UserError, match="it is a file, not a folder"):
        check_output_dir(afile)
    with pytest.raises(UserError, match="is a file, not a folder"):
        check_output_dir(afile / "run" / "sub")
    with pytest.raises(UserError, match="it is a folder"):
        atomic_write_text(tmp_path, "x")  # the one writer refuses too, in one line
    assert check_output_file(tmp_path / "new" / "c.json") == tmp_path / "new" / "c.json"
    assert not (tmp_path / "new").exists()  # checking writes nothing


def test_assignments_are_single_scalars_given_once():
    assert parse_assignments(["a=1", "b=x", "c=0.5", "d=true"], "--opt") == {"a": 1, "b": "x", "c": 0.5, "d": True}
    for items, fragment in ((["a"], "expects NAME=VALUE"), (["a=1", "a=2"], "given twice"),
                            (["a=[1, 2]"], "expected one value"), (["a={x: 1}"], "expected one value")):
        with pytest.raises(UserError, match=fragment):
            parse_assignments(items, "--opt")


def test_short_never_formats_a_huge_value_whole():
    assert len(short("x" * 10**6)) <= 80 and len(short(list(range(10**5)))) <= 80
