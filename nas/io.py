"""File helpers: atomic writes and loaders that turn bad files into one-line `UserError`s.

Every file the project writes goes through :func:`atomic_write_bytes` (a temporary file in the
same folder, fsync, rename), so a kill at any moment leaves either the old file or the new
one, never a half-written one.
"""

from __future__ import annotations

import json
import os
import reprlib
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import yaml

from nas.errors import UserError, first_line


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


def _writable_parent(path: Path, what: str) -> None:
    """Refuse `path` when its nearest existing ancestor is not a writable folder."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"cannot write {what} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {what} {path}: no permission to write in {parent}")


def check_output_file(path: str | os.PathLike, what: str = "file") -> Path:
    """Refuse, before any work, an output file path that cannot be written (a folder, under a file, ...)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"cannot write {what} {path}: it is a folder")
    if path.exists() and not path.is_file():
        raise UserError(f"cannot write {what} {path}: it is not a regular file")
    _writable_parent(path, what)
    return path


def check_output_dir(path: str | os.PathLike, what: str = "folder") -> Path:
    """Refuse, before any work, an output folder path that cannot be made or written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"cannot write {what} {path}: it is a file, not a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserError(f"cannot write {what} {path}: no permission")
        return path
    _writable_parent(path, what)
    return path


def atomic_write_with(path: str | os.PathLike, writer: Callable[[Path], None]) -> Path:
    """Let `writer` fill a temporary path next to `path`, then rename it into place.

    For libraries that insist on writing a file themselves (matplotlib, torch.save).
    The temporary name keeps the suffix of `path` so format detection still works.
    A path that cannot be written (a folder, under a file) is a `UserError`.
    """
    path = check_output_file(path)
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


MAX_FILE_BYTES = 64 * 2**20
"""The largest user file the readers take (spaces, genotypes, configs, CSV lists, JSON)."""
MAX_DEPTH = 64
"""The deepest nesting of lists and mappings a JSON or YAML document may have."""
MAX_VALUES = 1_000_000
"""The most values (scalars, lists, mappings) a document may expand to, YAML aliases counted at each use."""


def short(value: Any, limit: int = 80) -> str:
    """`repr(value)` cut to about `limit` characters, for error messages (never formats a huge value whole)."""
    shortener = reprlib.Repr()
    shortener.maxstring, shortener.maxother, shortener.maxlevel = limit, limit, 3
    shortener.maxlist = shortener.maxdict = shortener.maxtuple = shortener.maxset = 6
    text = shortener.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_bytes(path: str | os.PathLike, what: str = "file", limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else is a one-line `UserError`.

    FIFOs, devices and sockets are refused before they are opened (reading one could block forever).
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"{what} is a folder, not a file: {path}")
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{what} {path} is not a regular file (a FIFO, device or socket)")
    if info.st_size > limit:
        raise UserError(f"{what} {path} has {info.st_size} bytes, more than the {limit} this reader takes")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UserError(f"{what} {path} has more than the {limit} bytes this reader takes")
    return data


def read_text(path: str | os.PathLike, what: str = "file", limit: int = MAX_FILE_BYTES) -> str:
    """Read a UTF-8 text file (see `read_bytes`); a file that is not UTF-8 is a `UserError` naming the byte."""
    data = read_bytes(path, what, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{what} {path} is not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") \
            from None


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys in a mapping (the plain one keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class refuses it with its own message
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {short(key)}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def check_shape(document: Any, source: str) -> Any:
    """Refuse a parsed document nested deeper than `MAX_DEPTH` or expanding to more than `MAX_VALUES` values.

    Shared lists and mappings (YAML aliases) count once per use, without walking them again.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id -> (values, depth) of a container already measured

    def measure(value: Any, level: int) -> tuple[int, int]:
        if not isinstance(value, (list, dict)):
            return 1, 0
        if id(value) in sizes:
            return sizes[id(value)]
        if level > MAX_DEPTH:
            raise UserError(f"{source}: nested more than {MAX_DEPTH} levels deep")
        children = list(value.keys()) + list(value.values()) if isinstance(value, dict) else value
        count, depth = 1, 0
        for child in children:
            child_count, child_depth = measure(child, level + 1)
            count, depth = count + child_count, max(depth, child_depth + 1)
            if count > MAX_VALUES:
                raise UserError(f"{source}: expands to more than {MAX_VALUES} values (YAML aliases repeat theirs)")
        sizes[id(value)] = (count, depth)
        return count, depth

    measure(document, 0)
    return document


def parse_yaml(text: str, source: str = "YAML") -> Any:
    """Parse YAML text with the strict safe loader, then `check_shape`; problems name the source and line."""
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or first_line(exc)
        raise UserError(f"invalid YAML in {source}{where}: {problem}") from None
    except RecursionError:
        raise UserError(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise UserError(f"invalid YAML in {source}: {_value_problem(exc)}") from None
    return check_shape(document, source)


def load_yaml(path: str | os.PathLike, what: str = "YAML file") -> Any:
    """Parse a YAML file (see `read_text` and `parse_yaml`)."""
    return parse_yaml(read_text(path, what), str(path))


def _value_problem(exc: ValueError) -> str:
    """A parser's ValueError in a few words (Python's digit limit names a setting users cannot pass)."""
    text = first_line(exc)
    if "digits" in text and "integer string conversion" in text:
        return f"a number has more than {sys.get_int_max_str_digits()} digits"
    return text


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {short(key)}")
        out[key] = value
    return out


def parse_json(text: str, source: str = "JSON") -> Any:
    """Parse JSON text (duplicate keys refused), then `check_shape`; problems become a `UserError`."""
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise UserError(f"invalid JSON in {source} line {exc.lineno}: {exc.msg}") from None
    except RecursionError:
        raise UserError(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # a duplicate key, or an integer of more digits than Python converts
        raise UserError(f"invalid JSON in {source}: {_value_problem(exc)}") from None
    return check_shape(document, source)


def load_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """Parse a JSON file (see `read_text` and `parse_json`)."""
    return parse_json(read_text(path, what), str(path))


def parse_assignments(items: list[str], flag: str) -> dict[str, Any]:
    """["a=1", "b=x"] -> {"a": 1, "b": "x"}: each value read as one YAML scalar (strict, see `parse_yaml`)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise UserError(f"{flag} expects NAME=VALUE, got {short(item)}")
        if name in out:
            raise UserError(f"{flag} {short(name)} is given twice")
        value = parse_yaml(text, f"{flag} {short(name)}")
        if isinstance(value, (list, dict)):
            raise UserError(f"{flag} {short(name)}: expected one value, got {short(text)}")
        out[name] = value
    return out
