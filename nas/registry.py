"""A name -> object table that refuses duplicate names (used for ops and for backbones)."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from nas.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names mapped to entries; registering a name twice is an error, unknown names too."""

    def __init__(self, what: str) -> None:
        self.what = what  # "op kind", "backbone": used in error messages
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register `entry` under `name`; a name can be registered only once."""
        if not name or not isinstance(name, str):
            raise ValueError(f"{self.what} name must be a non-empty string, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def decorator(self, name: str) -> Callable[[T], T]:
        """`@registry.decorator("name")` registers the decorated object and returns it."""

        def register(entry: T) -> T:
            return self.add(name, entry)

        return register

    def get(self, name: str) -> T:
        """The entry called `name`; an unknown name is a `UserError` listing the known ones."""
        try:
            return self._entries[name]
        except KeyError:
            raise UserError(f"unknown {self.what} {name!r} (known: {', '.join(sorted(self._entries))})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._entries)
