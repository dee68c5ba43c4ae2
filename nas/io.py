"""File helpers: atomic writes and loaders that turn bad files into one-line `UserError`s.

Every file the project writes goes through :func:`atomic_write_bytes` (a temporary file in the
same folder, fsync, rename), so a kill at any moment leaves either the old file or the new
one, never a half-written one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import yaml

from nas.errors import UserError


def _default_mode() -> int:
    """The permissions a plain `open(path, "w")` would give (mkstemp makes files 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically (temporary file + fsync + rename); return the path."""
    return atomic_write_with(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON (with a trailing newline) to `path` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def atomic_write_with(path: str | os.PathLike, writer: Callable[[Path], None]) -> Path:
    """Let `writer` fill a temporary path next to `path`, then rename it into place.

    For libraries that insist on writing a file themselves (matplotlib, torch.save).
    The temporary name keeps the suffix of `path` so format detection still works.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """Read a UTF-8 text file; a missing or unreadable file is a `UserError` naming it."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{what} not found: {path}")
    if path.is_dir():
        raise UserError(f"{what} is a directory, not a file: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {what} {path}: {exc}") from None


def load_yaml(path: str | os.PathLike, what: str = "YAML file") -> Any:
    """Parse a YAML file with the safe loader; syntax errors name the file and line."""
    text = read_text(path, what)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"invalid YAML in {path}{where}: {problem}") from None


def parse_json(text: str, source: str = "JSON") -> Any:
    """Parse JSON text; syntax errors become a `UserError` naming `source` and the line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"invalid JSON in {source} line {exc.lineno}: {exc.msg}") from None


def load_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """Parse a JSON file; missing files and syntax errors are `UserError`s."""
    return parse_json(read_text(path, what), str(path))
