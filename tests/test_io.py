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
